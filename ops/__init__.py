"""What the tasks do, as importable and testable functions (tasks.py only parses arguments).

Command lines are built as data (argv lists) here and run in one place (ops.run).
"""
