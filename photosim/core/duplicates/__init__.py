"""Finding duplicate photos, one concern per module, dependencies pointing down this list.

* ``settings`` — the thresholds (:class:`~.settings.DedupSettings`).
* ``kinds`` — what flows between the steps: a candidate photo, a pair's verdict and level.
* ``pairs`` — the one pair table (:class:`~.pairs.PairTable`) and the hash-near pairs.
* ``gate`` — the bulk pixel gate: which pairs' coarse pixels may agree, all at once.
* ``geometry`` — grid arithmetic: tone curves, crops, strips, colours.
* ``verdicts`` — pixel verdicts kept between groupings and sessions.
* ``judge`` — :class:`~.judge.PairJudge`, how two photos relate.
* ``prefilter`` — the pairs worth judging one by one.
* ``keeper`` — which member of a group to keep (:func:`~.keeper.choose_keeper`).
* ``partition`` — the clusters of every level made into one group per photo.
* ``policy`` — keep, trash or review: the suggestion for each member of a group.
* ``grouping`` — complete-linkage grouping into :class:`~photosim.core.types.DuplicateGroup`.
* ``neighbours`` — each photo's nearest neighbours, stored in the catalog between passes.
* ``search`` — :class:`~.search.DuplicateSearch`, the pass the ``Library`` facade calls.
"""
