# nbgrader reads this file when run from the repository root; the real configuration lives in grading/.
c = get_config()  # noqa: F821
load_subconfig("grading/nbgrader_config.py")  # noqa: F821
