# Thin wrappers: every target sets up .venv/ if needed (tools/bootstrap.py) and runs one command in it.
PYTHON ?= python3
BOOT = $(PYTHON) tools/bootstrap.py

.PHONY: lab test release datasets bench lock clean

lab:        ## set up, then open JupyterLab on module 00
	$(BOOT) lab

test:       ## set up, then run the whole test suite
	$(BOOT) test

release:    ## regenerate the student notebooks in notebooks/ from solutions/
	$(BOOT) run aipmlab release

datasets:   ## regenerate the canonical data files in datasets/
	$(BOOT) run aipmlab datasets

bench:      ## time every solution notebook against the kernel-and-imports floor
	$(BOOT) run python benchmarks/run_notebooks.py

lock:       ## re-resolve pyproject.toml's ranges into requirements.lock
	$(PYTHON) tools/lock.py

clean:      ## remove the environment, caches and nbgrader's working folders (never my-work/)
	rm -rf .venv .pytest_cache build *.egg-info submitted autograded feedback gradebook.db
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
