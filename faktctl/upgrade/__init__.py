"""`faktctl upgrade`: move a deployment across Faktory versions without hiding a job."""
