"""The hiring manager's take-home: bundles per candidate, grading through the engine, reports,
reviewer calibration and similarity. Nothing in this package ships inside a bundle."""
