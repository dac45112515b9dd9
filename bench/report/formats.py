"""The names the table writers take, and the plot kinds several protocols share (light: the command-line
parser reads them)."""
from bench.engine.protocol import PlotKind

#: leaderboard cells: each task's own metric, or one metric for all
METRICS = ("primary", "top1", "top5", "mean_per_class_recall")
#: leaderboard output formats
FORMATS = ("md", "csv", "html", "json")
#: plot kinds any zero-shot protocol's records feed (zero-shot classification, retrieval, association declare them)
LEADERBOARD_PLOT = PlotKind("leaderboard", "a heat map of the headline leaderboard (each task's own metric)",
                            "bench.report.plots:plot_leaderboard")
CHECKPOINTS_PLOT = PlotKind("checkpoints", "each task's zero-shot metric against the training step of a run's "
                            "checkpoints", "bench.report.plots:plot_checkpoints")
