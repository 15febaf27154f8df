"""Why each difference exists and what to change: causes (causes.py), rules that are data
(rules.py), settings (settings.py), content facts and evidence, Dockerfile steps, and the
explainer that ties them together; it returns an :class:`~.explanation.Explanations` (one
:class:`~.explanation.Explanation` per difference) and edits no record.

>>> from reprokit.explain.causes import CAUSES
>>> {'dependency-drift', 'embedded-timestamp', 'identity'} <= set(CAUSES)
True
"""
