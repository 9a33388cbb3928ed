"""Validation metric that averages one loss term reported by a style-transfer model.

ppgan's Trainer logs ``Metric <name>: <value>`` for every configured metric
after a validation pass; with this metric the style and content losses of
:class:`~ppgan_ext.models.lapstyle_model.LapStylePyramidModel` appear there::

    validate:
      interval: 500
      metrics:
        style_loss: {name: StyleTransferLoss, term: style}
        content_loss: {name: StyleTransferLoss, term: content}
"""
from typing import Dict, List

import paddle
from ppgan.metrics.builder import METRICS

__all__ = ['StyleTransferLoss']

TERMS = ('content', 'style')


@METRICS.register()
class StyleTransferLoss(paddle.metric.Metric):
    """Mean over validation batches of the model's ``term`` loss.

    Args:
        term (str): ``'content'`` or ``'style'``. Default: 'style'.
    """

    def __init__(self, term: str = 'style'):
        super().__init__()
        if term not in TERMS:
            raise ValueError(f"term must be one of {', '.join(TERMS)}; got {term!r}")
        self.term = term
        self.values: List[float] = []

    def reset(self) -> None:
        self.values = []

    def update(self, losses: Dict[str, float]) -> None:
        """Record one batch; ``losses`` maps term names to floats."""
        self.values.append(float(losses[self.term]))

    def accumulate(self) -> float:
        return sum(self.values) / len(self.values) if self.values else float('nan')

    def name(self) -> str:
        return f'{self.term}_loss'
