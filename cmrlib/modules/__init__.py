"""Temporal modules, one per file, all on the (N*T, C, H, W) layout with num_segments=T."""
from cmrlib.modules.channel_motion_enhancement import ChannelMotionEnhancement
from cmrlib.modules.motion_enhancement import MotionEnhancement
from cmrlib.modules.progressive_enhancement import ProgressiveEnhancement
from cmrlib.modules.spatial_motion_enhancement import SpatialMotionEnhancement
from cmrlib.modules.stm import ChannelwiseMotion, STMBasicBlock, STMBottleneck
from cmrlib.modules.tea import MotionExcitation, MultipleTemporalAggregation, TEABasicBlock, TEABottleneck
from cmrlib.modules.temporal_interaction import TemporalInteraction
from cmrlib.modules.temporal_shift import TemporalShift

__all__ = [
    "ChannelMotionEnhancement", "ChannelwiseMotion", "MotionEnhancement", "MotionExcitation",
    "MultipleTemporalAggregation", "ProgressiveEnhancement", "STMBasicBlock", "STMBottleneck", "SpatialMotionEnhancement",
    "TEABasicBlock", "TEABottleneck", "TemporalInteraction", "TemporalShift",
]
