"""`spacy lstm-classify`: streaming, resumable, exactly-once batch classification.

inputs.py (files -> records, bad ones included), writer.py (the exactly-once output),
job.py (what both engines share: summary, exit status, prediction records, opening a job),
local.py (nlp.pipe in this process) and ray.py (Ray Data actors).
"""
