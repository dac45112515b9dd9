"""Built-in task specs, one module per dataset family; importing registers them."""
from tasks.builtin import cifar, imagenet  # noqa: F401
