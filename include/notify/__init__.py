"""Alert messages for humans: what failed, with what evidence, and where to look."""
