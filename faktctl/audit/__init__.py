"""faktctl audit: gather facts about a deployment, run the checks, report the findings."""
