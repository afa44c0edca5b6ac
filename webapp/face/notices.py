"""What the face check says: why it is asked (per purpose) and every refusal, in Chinese."""

from __future__ import annotations

# What each purpose is for, in the words the face page shows.
PURPOSES = {
    "register": "注册账号需要验证是本人操作",
    "login": "登录需要验证是本人操作",
    "kinship_add": "添加家庭成员需要验证是本人操作",
    "kinship_accept": "确认亲情账户绑定需要验证是本人操作",
    "kinship_edit": "修改家庭成员信息需要验证是本人操作",
    "invitation_accept": "接受家人邀请需要验证是本人操作",
    "aid_create": "开通家庭共济需要验证是本人操作",
    "aid_accept": "加入家庭共济需要验证是本人操作",
    "aid_join": "加入家庭共济需要验证是本人操作",
}
DEFAULT_PURPOSE_TEXT = "该操作需要验证是本人操作"

# The photo and the frames.
MSG_UNCLEAR = "未检测到清晰的人脸图像，请正对屏幕重试"
MSG_NOT_IMAGE = "无法识别该图片，请拍摄一张JPG、PNG或WebP格式的照片"
MSG_TOO_SMALL = "照片太小，未检测到清晰的人脸图像，请正对屏幕重试"
MSG_TOO_LARGE = "照片尺寸或文件过大，请重新拍摄"
MSG_NO_IMAGE = "请拍摄或选择一张本人正脸照片"
MSG_FRAME_NOT_IMAGE = "采集的画面无法识别，请重新识别"
MSG_FRAME_TOO_SMALL = "采集的画面太小，请正对屏幕重新识别"
MSG_FRAME_TOO_LARGE = "采集的画面尺寸或文件过大，请重新识别"
MSG_FRAME_BLANK = "画面过暗或被遮挡，未检测到人脸，请在光线充足处正对屏幕重试"
MSG_SAME_FRAMES = "检测到重复的画面，请正对摄像头按提示完成动作"

# The liveness sequence.
MSG_FEW_FRAMES = "采集到的画面不足，请按提示完成全部动作"
MSG_MANY_FRAMES = "采集到的画面过多，请重新识别"
MSG_WRONG_ACTIONS = "未按提示顺序完成动作，请重新识别"
MSG_BAD_TIMES = "画面时间信息无效，请重新识别"
MSG_TOO_FAST = "动作完成得太快，请按提示逐个完成动作"
MSG_TOO_SLOW = "动作用时过长，请重新识别"
MSG_PHOTO_REFUSED = "该操作须通过摄像头完成动作检测，不支持上传照片"

# The attempt.
MSG_FAILED = "人脸识别未通过，请确认是本人操作"
MSG_EXPIRED = "本次人脸识别已超时，请重新识别"
MSG_BAD_NONCE = "人脸识别请求无效，请重新识别"
MSG_NOT_PENDING = "本次人脸识别已结束，请重新识别"
MSG_NOT_YOURS = "该人脸识别请求不属于当前账号，请返回重新操作"
MSG_NOT_FOUND = "该人脸识别请求不存在或已失效，请返回重新操作"
MSG_REQUIRED = "请先完成人脸识别"


def purpose_text(purpose: str) -> str:
    """The sentence telling the person why they are asked for a face check."""
    return PURPOSES.get(purpose, DEFAULT_PURPOSE_TEXT)
