"""Sequential next-item models trained offline from the event log (SASRec-style).

Kept apart from the live recommendation path: these modules answer the question "what
does a model of the whole ordered history add over item-to-item transitions?" offline,
on the same evaluation users as ``streamrec.evaluation.next_item_baselines``.

``ItemVocabulary`` maps skus to dense ids; ``validation_split`` carves an
early-stopping set from the training users; ``SasrecConfig`` holds the knobs;
``sasrec_network`` builds the PyTorch model; ``train_sasrec`` trains it and returns a
``SasrecRecommender`` with the baselines' ``recommend(history, k, exclude_history=)``.

PyTorch is the optional ``train`` extra: nothing here imports it at import time (only
inside the functions that need it), so this package imports without it.
"""
