"""The paper-replication study built on the model library (lsntp): the training queue, the comparison
of every system with seeds and bootstrap intervals, the zoo of exported systems and the scaling
benchmark. It imports the library; the library never imports it (lsntp/test_layering.py)."""
