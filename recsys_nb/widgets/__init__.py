"""ipywidgets UIs for the notebooks: presentation only, on the public ``Recommender`` API.

One module per job, one class per widget. Each notebook's widget, and where it lives:

- 01 items and embeddings: :class:`ItemExplorer` (``widgets.explorer``): a movie's neighbours,
  free-text search.
- 02 interest vectors: :class:`InterestReplay` (``widgets.replay``, built with
  ``InterestReplay.for_history``): a user's history replayed with your own alphas.
- 03 recommendations: :class:`RecommendationBrowser` (``widgets.browser``): a user's top-N next
  to their recent history.
- 04 not interested: :class:`NotInterestedPanel` (``widgets.not_interested``): reject items,
  set the factor live (``Recommender.set_params``).
- 05 temporal momentum: :class:`MomentumScrubber` (``widgets.momentum``, built with
  ``MomentumScrubber.for_history``): current against predicted interest, event by event.
- 07 playground: :class:`Playground` (``widgets.playground``; ``open_playground`` builds the
  service too), made of :class:`MovieCard`, :class:`MovieList`, :class:`SearchBox`,
  :class:`UserPicker`, :class:`ParameterSliders` and :class:`InterestPicture`
  (``widgets.components``).
- 08 high-dimensional intuition: :class:`CancellationExplorer` (``widgets.dimensions``): a
  dimension slider and a factor slider, how often "not interested" nearly cancels the vector.
- 09 segments and trends: :class:`SegmentMonthPicker` (``widgets.segments``): a segment and a
  month, what it watched and how close each forecast came.
- 10 multiple interests: :class:`InterestMixer` (``widgets.interests``): the diversity slider
  and merge dropdown of a user with several interests, the list and its places per interest.
- 00, 03 and every widget: ``item_label``, ``find_item``, ``recommendations_table``,
  ``history_table``, ``list_changes`` (``widgets.common``); the ``Output`` contents they show
  (``widgets.outputs``).

Each widget takes the service (or store) and data it shows as arguments and exposes its controls
and ``Output`` s as attributes, so a test (or a curious reader) can drive it without a browser:
set ``picker.value``, call ``button.click()``, then read ``output.outputs``. Widgets display
themselves in a notebook (a live view plus a static snapshot for HTML reports), and a failure in
a callback is shown as a readable message in the widget, never as a traceback.

Imports point one way: widgets -> recommender / plots / vectors, never back. ``ipywidgets`` and
matplotlib are imported when a widget is built, so ``from recsys_nb.widgets import item_label``
stays light.
"""

from recsys_nb.widgets.browser import RecommendationBrowser
from recsys_nb.widgets.common import (
    ItemNotFoundError,
    find_item,
    history_table,
    item_label,
    item_labels,
    list_changes,
    recommendations_table,
    title_matches,
)
from recsys_nb.widgets.components import (
    ACTIONS,
    InterestPicture,
    MovieCard,
    MovieList,
    ParameterSliders,
    SearchBox,
    TextSearch,
    UserPicker,
)
from recsys_nb.widgets.dimensions import CancellationExplorer
from recsys_nb.widgets.explorer import ItemExplorer
from recsys_nb.widgets.interests import InterestMixer
from recsys_nb.widgets.momentum import MomentumScrubber
from recsys_nb.widgets.not_interested import NotInterestedPanel, subtraction_preview
from recsys_nb.widgets.playground import (
    Playground,
    open_playground,
    playground_store,
    reason_text,
    text_search,
)
from recsys_nb.widgets.replay import InterestReplay
from recsys_nb.widgets.segments import SegmentMonthPicker

__all__ = [
    "ACTIONS",
    "CancellationExplorer",
    "InterestMixer",
    "InterestPicture",
    "InterestReplay",
    "ItemExplorer",
    "ItemNotFoundError",
    "MomentumScrubber",
    "MovieCard",
    "MovieList",
    "NotInterestedPanel",
    "ParameterSliders",
    "Playground",
    "RecommendationBrowser",
    "SearchBox",
    "SegmentMonthPicker",
    "TextSearch",
    "UserPicker",
    "find_item",
    "history_table",
    "item_label",
    "item_labels",
    "list_changes",
    "open_playground",
    "playground_store",
    "reason_text",
    "recommendations_table",
    "subtraction_preview",
    "text_search",
    "title_matches",
]
