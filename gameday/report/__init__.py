"""Reports: HTML and Markdown views of a score, a timeline chart, and drafts in the runbook's templates."""
