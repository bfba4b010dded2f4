"""nbgrader configuration for AI PM Lab (loaded by ../nbgrader_config.py when nbgrader runs at the root).

solutions/ is nbgrader's source folder and notebooks/ its release folder, so
`nbgrader generate_assignment 01-failure-boundaries` writes the student version straight into
notebooks/. Submissions, autograded copies, feedback and gradebook.db are created at the
repository root and ignored by git.
"""

import os

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

KIT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

c.CourseDirectory.root = KIT_ROOT
c.CourseDirectory.course_id = "aipmlab"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# The answer cell keeps its `answer = ...` line (the placeholder the checks recognise as "not
# attempted"); only the worked solution between the markers is replaced.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A notebook that takes longer than this per cell is stuck, not slow.
c.Execute.timeout = 120

# Points are decided by the grading engine, never by the student's kernel: in `nbgrader autograde`, the
# engine (aipmlab/grader/) replaces nbgrader's Execute step. It runs the notebook in a sandbox, judges
# the answers in its own process and writes each check cell's verdict, which SaveAutoGrades then scores.
# The other steps are nbgrader's defaults, unchanged.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,  # noqa: E402
                                    SaveAutoGrades)

from aipmlab.grader.nbgrader_autograde import EngineAutograde  # noqa: E402

c.Autograde.autograde_preprocessors = [EngineAutograde, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.EngineAutograde.cell_seconds = 120
