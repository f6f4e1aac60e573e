"""Notebook 05: scrub through a user's history, the current interest against the predicted one."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys_nb.plots import plot_next_item_similarity
from recsys_nb.trajectories import (
    interest_trajectory,
    next_item_similarity,
    predicted_trajectory,
)
from recsys_nb.vectors import MIN_WINDOW_EVENTS, MOMENTUM_METHODS, WRITEUP_WINDOW
from recsys_nb.widgets.common import item_label
from recsys_nb.widgets.outputs import _figure_output, _side_by_side
from recsys_nb.widgets.replay import (
    _check_history_columns,
    _event_labels,
    _item_rows,
    _ReplayView,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from recsys_nb.recommender import Recommender


class MomentumScrubber(_ReplayView):
    """Walk through one user's history: the current interest against the predicted one.

    Build it for a user with :meth:`for_history` (the constructor takes the prepared arrays).
    After event ``k`` (the ``step`` slider) it shows

    - a plot over all events of the mean cosine of the current interest (the EMA the service
      stores) and of the predicted interest (``predict_interest``'s math with the chosen
      ``method`` / ``window`` / ``weight``) with the next ``next_k`` items the user actually
      watched (positive events after ``k``, then the held-out ``future`` ones);
    - the two top-``n`` lists side by side (an exact search over all items by the service's
      score, ``cosine + prior_weight * prior``, the items of events ``1..k`` excluded), each item
      flagged when it is among those next items.

    Attributes: ``step`` (IntSlider), ``play`` (Play, linked to ``step``), ``method`` (Dropdown),
    ``window`` (IntSlider), ``weight`` (FloatSlider), ``status`` (HTML), ``output`` (Output: the
    figure), ``lists`` (Output: the two lists), ``widget`` (the whole UI); ``trajectory`` and
    ``predicted`` (m, d), ``fallback`` (m,) bool (the prediction is the current vector: too few
    positive events in the window, or it cancelled), ``next_cos`` ({"current", "predicted"}:
    (m,)), ``current_list`` / ``predicted_list`` (frames of the step shown), ``figure``,
    ``renders``, ``error`` (the last failure shown in the Output, or None); ``prior`` (items,)
    and ``prior_weight``: the popularity prior the lists add (zeros / 0: pure cosine).
    """

    def __init__(
        self,
        item_matrix: np.ndarray,
        items: pd.DataFrame,
        rows: np.ndarray,
        kinds: list[str],
        event_labels: list[str],
        future_rows: np.ndarray,
        alpha_view: float,
        alpha_favorite: float,
        not_interested_factor: float,
        *,
        n: int = 10,
        next_k: int = 20,
        window: int = WRITEUP_WINDOW,
        method: str = "momentum",
        weight: float = 1.0,
        half_life: float | None = None,
        min_events: int = MIN_WINDOW_EVENTS,
        title: str = "",
        prior: np.ndarray | None = None,
        prior_weight: float = 0.0,
    ) -> None:
        import ipywidgets as widgets

        m = len(rows)
        if m == 0:
            raise ValueError("the history is empty; pass a user with events")
        for name, value in (("n", n), ("next_k", next_k)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        self.item_matrix = np.asarray(item_matrix, dtype=np.float32)
        self.prior = (np.zeros(len(self.item_matrix)) if prior is None
                      else np.asarray(prior, dtype=np.float64))
        if self.prior.shape != (len(self.item_matrix),):
            raise ValueError(f"prior has shape {self.prior.shape}; pass one value per item "
                             f"({len(self.item_matrix)}), e.g. rec.item_prior()")
        self.prior_weight = float(prior_weight)
        self.items = items  # one row per matrix row, indexed by item_id: title, year
        self.rows = np.asarray(rows, dtype=np.int64)
        self.kinds, self.event_labels = list(kinds), list(event_labels)
        self.n, self.next_k, self.half_life, self.min_events = int(n), int(next_k), half_life, \
            int(min_events)
        self.title = title
        self.figure: Figure | None = None
        self.renders = 0
        self.error: str | None = None
        self.current_list = pd.DataFrame()
        self.predicted_list = pd.DataFrame()
        # what the user watched next after each event: later positive events, then the future
        positive_at = [k for k, kind in enumerate(self.kinds) if kind != "not_interested"]
        sequence = [int(self.rows[k]) for k in positive_at] + [int(r) for r in future_rows]
        index = np.asarray(positive_at + [m] * len(future_rows))
        first_after = np.searchsorted(index, np.arange(m), side="right")
        self.targets = [sequence[s:s + self.next_k] for s in first_after]
        self.trajectory = interest_trajectory(self.item_matrix, self.rows, self.kinds,
                                              alpha_view, alpha_favorite, not_interested_factor)
        self.step = widgets.IntSlider(value=m, min=1, max=m, description="event",
                                      continuous_update=False,
                                      layout=widgets.Layout(width="520px"))
        self.play = widgets.Play(value=m, min=1, max=m, interval=400, description="play")
        self._link = widgets.link((self.play, "value"), (self.step, "value"))
        if method not in MOMENTUM_METHODS:
            raise ValueError(f"method={method!r} is unknown; use one of {list(MOMENTUM_METHODS)}")
        self.method = widgets.Dropdown(options=list(MOMENTUM_METHODS), value=method,
                                       description="method")
        self.window = widgets.IntSlider(value=int(window), min=2, max=max(40, int(window)),
                                        description="window", continuous_update=False)
        self.weight = widgets.FloatSlider(value=float(weight), min=0.0, max=max(2.0, weight),
                                          step=0.1, description="weight",
                                          continuous_update=False, readout_format=".1f")
        self.status = widgets.HTML()
        self.output = widgets.Output()
        self.lists = widgets.Output()
        self.widget = widgets.VBox([
            widgets.HBox([self.method, self.window, self.weight]),
            widgets.HBox([self.play, self.step]),
            self.status,
            self.output,
            self.lists,
        ])
        self.predicted = self.trajectory.copy()
        self.fallback = np.ones(m, dtype=bool)
        self.next_cos: dict[str, np.ndarray] = {}
        self._guarded(recompute=True)
        for control in (self.method, self.window, self.weight):
            control.observe(self._on_recompute, names="value")
        self.step.observe(self._on_redraw, names="value")

    @classmethod
    def for_history(
        cls,
        rec: Recommender,
        history: pd.DataFrame,
        future: pd.DataFrame | None = None,
        *,
        n: int = 10,
        next_k: int = 20,
        window: int = WRITEUP_WINDOW,
        method: str = "momentum",
        weight: float = 1.0,
        half_life: float | None = None,
        min_events: int = MIN_WINDOW_EVENTS,
        title: str = "",
    ) -> MomentumScrubber:
        """The current-vs-predicted scrubber for one user's history over a Recommender's items.

        The item vectors, the popularity prior and the service's alphas / factor are copied out
        of ``rec`` once, so the widget keeps working after ``rec.close()``; it never writes to
        the store. At the last event of a history equal to the user's log, ``trajectory[-1]`` is
        ``rec.interest(user)`` and ``predicted[-1]`` is ``rec.predict_interest(user, window,
        ...)``.

        Args:
            rec: the service (item vectors, titles, alphas, not-interested factor, prior).
            history: the user's events (item_id, kind; timestamp optional), oldest first, e.g.
                ``rec.history(user)``.
            future: events after the history (e.g. the user's held-out test events); their
                positive items count as "watched next" for the last events. None: none.
            n: length of the two lists; next_k: how many next items the cosines average over.
            window, method, weight, half_life, min_events: the prediction's settings (the first
                three are controls), as in ``Recommender.predict_interest``.
            title: shown above the curves.

        Raises:
            ValueError: a frame lacks item_id / kind, the history is empty, a bad setting.
            KeyError: a frame holds items the recommender does not know.
        """
        frames = {"history": history, **({"future": future} if future is not None else {})}
        _check_history_columns(frames, "pass rec.history(user) or a dataset's events of one user")
        item_ids = rec.item_ids
        matrix = rec.item_matrix()
        rows = _item_rows(rec, history, "history")
        future_rows = np.empty(0, dtype=np.int64)
        if future is not None:
            positive = future[future["kind"] != "not_interested"]
            future_rows = _item_rows(rec, positive, "future")
        return cls(
            matrix, rec.items.loc[item_ids, ["title", "year"]], rows,
            history["kind"].astype(str).tolist(), _event_labels(rec, history), future_rows,
            rec.alpha_view, rec.alpha_favorite, rec.not_interested_factor, n=n, next_k=next_k,
            window=window, method=method, weight=weight, half_life=half_life,
            min_events=min_events, title=title, prior=rec.item_prior(),
            prior_weight=rec.prior_weight,
        )

    def _recompute(self) -> None:
        self.predict()

    def predict(self) -> None:
        """Recompute the predicted interest after every event with the controls' settings."""
        self.predicted, self.fallback = predicted_trajectory(
            self.item_matrix, self.rows, self.kinds, self.trajectory, int(self.window.value),
            weight=float(self.weight.value), method=self.method.value,
            half_life=self.half_life, min_events=self.min_events,
        )
        self.next_cos = {
            "current": next_item_similarity(self.trajectory, self.item_matrix, self.targets),
            "predicted": next_item_similarity(self.predicted, self.item_matrix, self.targets),
        }

    def summary(self) -> dict[str, float]:
        """Over the events where a prediction differs from the current vector and next items
        exist: how often the predicted interest is closer to the next items, and the means."""
        cur, pred = self.next_cos["current"], self.next_cos["predicted"]
        ok = ~self.fallback & ~np.isnan(cur) & ~np.isnan(pred)
        if not ok.any():
            return {"events": 0, "predicted_closer": float("nan"),
                    "current_mean": float("nan"), "predicted_mean": float("nan")}
        return {"events": int(ok.sum()), "predicted_closer": float((pred[ok] > cur[ok]).mean()),
                "current_mean": float(cur[ok].mean()), "predicted_mean": float(pred[ok].mean())}

    def top_list(self, vector: np.ndarray, step: int) -> pd.DataFrame:
        """Top-``n`` items for ``vector`` with the items of events ``1..step`` excluded, ranked
        as the service ranks: ``cosine + prior_weight * prior`` (exact, over all items)."""
        if np.isnan(vector).any():
            return pd.DataFrame(columns=["rank", "movie", "score", "next"])
        q = np.asarray(vector, dtype=np.float64)
        scores = self.item_matrix @ (q / np.linalg.norm(q)) + self.prior_weight * self.prior
        scores[self.rows[:step]] = -np.inf
        idx = np.argsort(-scores, kind="stable")[:self.n]
        idx = idx[np.isfinite(scores[idx])]
        scores = scores[idx]
        upcoming = set(self.targets[step - 1])
        meta = self.items.iloc[idx]
        return pd.DataFrame({
            "rank": np.arange(1, len(idx) + 1),
            "item_id": meta.index.to_numpy(),
            "movie": [item_label(t, y) for t, y in zip(meta["title"], meta["year"], strict=True)],
            "score": scores,
            "next": ["yes" if int(r) in upcoming else "" for r in idx],
        })

    def render(self) -> None:
        """Draw the curves, the status line and the two lists for the current step."""
        from matplotlib.figure import Figure

        k = int(self.step.value)
        label = (f"predicted ({self.method.value}, window {self.window.value}, "
                 f"weight {self.weight.value:g})")
        fig = Figure(figsize=(11, 3.4), dpi=80, layout="constrained")
        ax = fig.subplots()
        plot_next_item_similarity(
            {"current interest (EMA)": self.next_cos["current"],
             label: self.next_cos["predicted"]}, step=k, ax=ax,
            title=self.title or None,
            ylabel=f"mean cosine to the next {self.next_k} items")
        self.figure = fig
        cur, pred = self.trajectory[k - 1], self.predicted[k - 1]
        self.current_list = self.top_list(cur, k)
        self.predicted_list = self.top_list(pred, k)
        c_next, p_next = self.next_cos["current"][k - 1], self.next_cos["predicted"][k - 1]
        hits_c = int((self.current_list["next"] == "yes").sum()) if len(self.current_list) else 0
        hits_p = int((self.predicted_list["next"] == "yes").sum()) \
            if len(self.predicted_list) else 0
        n_next = len(self.targets[k - 1])
        if np.isnan(cur).any():
            state = "no interest vector yet"
        elif self.fallback[k - 1]:
            state = (f"<b>fallback</b>: fewer than {self.min_events} positive events in the "
                     "window (or the prediction cancelled), so predicted = current")
        else:
            state = f"cos(current, predicted) = {float(cur @ pred):.3f}"
        fmt = "{:.3f}".format
        self.status.value = (
            f"event {k}/{len(self.rows)}: {html.escape(self.event_labels[k - 1])}<br>{state}; "
            f"mean cosine to the next {n_next} items: current "
            f"{fmt(c_next) if np.isfinite(c_next) else '-'}, predicted "
            f"{fmt(p_next) if np.isfinite(p_next) else '-'}; of these next items in the top "
            f"{self.n}: current {hits_c}, predicted {hits_p}"
        )
        text = (f"event {k}: {self.event_labels[k - 1]}; next-item cosine current {c_next:.3f}, "
                f"predicted {p_next:.3f}")
        self.output.outputs = (_figure_output(fig, text),)
        shown = {f"current interest: top {self.n}": self.current_list.drop(columns="item_id",
                                                                           errors="ignore"),
                 f"{label}: top {self.n}": self.predicted_list.drop(columns="item_id",
                                                                    errors="ignore")}
        self.lists.outputs = (_side_by_side(shown),)
        self.renders += 1

