"""Built-in task specs, one module per dataset family; importing registers them."""
from tasks.builtin import cifar, clip_suite, digits, imagenet  # noqa: F401
