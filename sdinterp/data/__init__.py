"""Data input: video files and frame folders (:mod:`.video`), which frames make a clip
(:mod:`.clips`), dataset layouts (:mod:`.layouts`: plain, ``style_<k>``, Stylized-DAVIS), clip
datasets (:mod:`.datasets`), dataset checks (:mod:`.scan`) and optical flow (:mod:`.flow`).

Everything here produces or checks :class:`~sdinterp.interfaces.Sample` inputs; nothing here knows
about models or statistics.
"""

from sdinterp.data.clips import clip_indices, pathway_views, uniform_temporal_subsample
from sdinterp.data.datasets import VideoClipDataset, collate_samples, forget_inherited
from sdinterp.data.layouts import (
    DAVIS_STYLES,
    Problem,
    VideoEntry,
    davis_layout,
    detect_layout,
    discover,
    find_videos,
    flow_image_paths,
    stylized_layout,
)
from sdinterp.data.scan import check_entry, scan_dataset
from sdinterp.data.video import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    ArraySource,
    DecordSource,
    FrameFolderSource,
    PyAVSource,
    VideoSource,
    list_frames,
    natural_key,
    open_video,
    read_image,
)
from sdinterp.errors import VideoReadError

__all__ = [
    "clip_indices",
    "pathway_views",
    "uniform_temporal_subsample",
    "VideoClipDataset",
    "collate_samples",
    "forget_inherited",
    "DAVIS_STYLES",
    "Problem",
    "VideoEntry",
    "davis_layout",
    "detect_layout",
    "discover",
    "find_videos",
    "flow_image_paths",
    "stylized_layout",
    "check_entry",
    "scan_dataset",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "ArraySource",
    "DecordSource",
    "FrameFolderSource",
    "PyAVSource",
    "VideoSource",
    "list_frames",
    "natural_key",
    "open_video",
    "read_image",
    "VideoReadError",
]
