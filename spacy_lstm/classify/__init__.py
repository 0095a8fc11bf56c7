"""`spacy lstm-classify`: streaming, resumable, exactly-once batch classification.

paths.py (which files: inputs, the output kept out of them, the input manifest), inputs.py
(files -> records, bad ones included), writer.py (the exactly-once output), lock.py (one writer
per output), job.py (what both engines share: summary, exit status, prediction lines, opening a
job), local.py (nlp.pipe in this process; workers.py makes its worker processes die with it)
and ray.py (Ray Data actors).
"""
