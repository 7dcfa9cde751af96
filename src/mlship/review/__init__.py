"""Review: the PR flow. Which models a change touches, each compared with its baseline on the
same rows, the gates' verdict, the comment a reviewer reads, and the ledger of what was approved."""
