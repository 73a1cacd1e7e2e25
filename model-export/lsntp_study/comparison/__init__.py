"""The comparison of every queued system, one concern a module: which rows the queue's runs make
(systems), each run's cached test scores (scores), a row over its seeds (rows), the decision rules
(rules) and their prose (prose), the markdown report (report), its plots (plots), and compare, which
runs them in order and writes OUT/comparison.json, OUT/README.md and OUT/plots/."""
