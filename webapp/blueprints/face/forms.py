"""The face-check form: the challenge nonce and one image (camera frame or photo)."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField


class FaceForm(FlaskForm):
    """Posted by the camera script (a JPEG frame) or by the photo fallback without script."""

    nonce = HiddenField()
    image = FileField("拍照或选择照片")
