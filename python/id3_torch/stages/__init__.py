"""Stage functions: the Python half of each pipeline stage, run as bridge jobs or under torchrun."""
