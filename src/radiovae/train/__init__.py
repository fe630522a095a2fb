"""Training RadioDiff's first-stage VAE: config, trainer, records, evaluation, the demo.

Import from the submodules (``radiovae.train.trainer.train``, ``radiovae.train.evaluate.evaluate``,
``radiovae.train.demo.run_demo``, ``radiovae.train.config.load_config``); this package imports
nothing itself, so ``radiovae.train.config`` stays free of torch.
"""
