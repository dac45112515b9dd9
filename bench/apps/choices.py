"""The names the applications take on the command line, kept light (no torch) for the parser."""

#: the doctor's variant groups (``zsbench doctor --only``)
DOCTOR_GROUPS = ("class names", "templates", "text", "preprocessing", "model", "profile")
#: what ``zsbench perf --section`` measures
PERF_SECTIONS = ("text", "multilingual", "images", "zeroshot", "probe", "probe-memory", "data", "search", "startup", "forward")
