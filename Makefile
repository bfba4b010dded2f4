# Thin wrappers: every target sets up .venv/ if needed (tools/bootstrap.py) and runs one command in it.
PYTHON ?= python3
BOOT = $(PYTHON) tools/bootstrap.py
.DEFAULT_GOAL := help

.PHONY: help lab course reset test release datasets bench lock clean clean-course

help:       ## list the targets
	@echo "AI PM Lab: make TARGET"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):[^#]*## (.*)/\1|\2/' | awk -F'|' '{printf "  %-14s %s\n", $$1, $$2}'

lab:        ## set up, then open JupyterLab on module 00 (your copies live in my-work/)
	$(BOOT) lab

course:     ## set up, then open the instructor's JupyterLab with nbgrader's tools (formgrader)
	$(BOOT) course

reset:      ## a fresh copy of one module in my-work/, yours kept as a backup: make reset MODULE=01
	@test -n "$(MODULE)" || { echo "Say which module: make reset MODULE=01"; exit 2; }
	$(BOOT) reset $(MODULE)

test:       ## set up, then run the whole test suite
	$(BOOT) test

release:    ## regenerate the student notebooks in notebooks/ from solutions/
	$(BOOT) run aipmlab release

datasets:   ## regenerate the canonical data files in datasets/
	$(BOOT) run aipmlab datasets

bench:      ## time every solution notebook against the kernel-and-imports floor (budget: 15 s, 500 MiB)
	$(BOOT) run python benchmarks/run_notebooks.py --budget-seconds 15 --budget-mib 500

lock:       ## re-resolve pyproject.toml's ranges into requirements.lock
	$(PYTHON) tools/lock.py

clean:      ## remove the environment, caches and build products (never my-work/ or grading work)
	rm -rf .venv .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-course: ## delete the course's grading work (gradebook, submissions, grades), after asking
	@echo "This deletes gradebook.db, submitted/, autograded/, feedback/ and grades.csv: every grade, manual ones too."
	@if [ "$(CONFIRM)" = "yes" ]; then answer=yes; else printf "Type yes to delete them: "; read answer; fi; \
	  if [ "$$answer" = "yes" ]; then rm -rf submitted autograded feedback gradebook.db grades.csv && echo "deleted"; \
	  else echo "kept everything"; exit 1; fi
