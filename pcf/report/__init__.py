"""What a person reads: the terminal report, the self-contained HTML report, progress on long commands."""
