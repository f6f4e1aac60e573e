"""ipywidgets UIs for the notebooks: presentation only, on the public ``Recommender`` API.

One module per job, one class per widget; each notebook's widget:

==========================  ======================================  ===========================
notebook                    widget                                  module
==========================  ======================================  ===========================
01_items_and_embeddings     :class:`ItemExplorer`                   ``widgets.explorer``
02_interest_vectors         :class:`InterestReplay`                 ``widgets.replay``
03_recommendations          :class:`RecommendationBrowser`          ``widgets.browser``
04_not_interested           :class:`NotInterestedPanel`             ``widgets.not_interested``
05_temporal_momentum        :class:`MomentumScrubber`               ``widgets.momentum``
07_playground               :class:`Playground` (``open_playground``)  ``widgets.playground``,
                            built from ``MovieCard``, ``MovieList``,   ``widgets.components``
                            ``SearchBox``, ``UserPicker``,
                            ``ParameterSliders``, ``InterestPicture``
00, 03 and every widget     ``item_label``, ``find_item``,          ``widgets.common``
                            ``recommendations_table``,
                            ``history_table``, ``list_changes``
==========================  ======================================  ===========================

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
from recsys_nb.widgets.explorer import ItemExplorer
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

__all__ = [
    "ACTIONS",
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
