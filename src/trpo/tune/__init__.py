"""`trpo tune`: an Optuna search over TRPO's hyperparameters for one env (needs pip install 'trpo[tune]').

space.py   the search space (a YAML of TRPOConfig fields and ranges)
study.py   the study's storage, settings and trial counts
worker.py  one trial = one `trpo train` run, evaluated and pruned; the worker loop
launch.py  J workers on this machine under a progress bar over trials
report.py  the best trials, the best config as a preset, Optuna's pictures
"""
