"""The names the table writers take (light: the command-line parser reads them)."""

#: leaderboard cells: each task's own metric, or one metric for all
METRICS = ("primary", "top1", "top5", "mean_per_class_recall")
#: leaderboard output formats
FORMATS = ("md", "csv", "html", "json")
#: ``zsbench plot`` kinds (a protocol's ``plot_kinds`` names which its records feed)
KINDS = ("prompt-ensemble", "zeroshot-vs-probe", "few-shot", "robustness", "leaderboard", "checkpoints")
