"""The head pose's six numbers, in the order every pose row holds them: the decoder's ``pose`` input, the ONNX
graph's, the motion library's terms. No torch here, so the CLI's torch-free motions (:mod:`muybridge.animation.light`)
build pose rows from these names; what each does to the picture is in :mod:`muybridge.models.pose`."""

POSE_FIELDS = ("tilt", "shift_x", "shift_y", "scale", "yaw", "pitch")
POSE_DIM = len(POSE_FIELDS)
