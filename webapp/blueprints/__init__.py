"""The blueprints of the app, registered in this order by create_app()."""

from webapp.blueprints.aid import bp as aid_bp
from webapp.blueprints.api import bp as api_bp
from webapp.blueprints.auth import bp as auth_bp
from webapp.blueprints.codes import bp as codes_bp
from webapp.blueprints.face import bp as face_bp
from webapp.blueprints.family import bp as family_bp
from webapp.blueprints.invite import bp as invite_bp
from webapp.blueprints.main import bp as main_bp
from webapp.blueprints.messages import bp as messages_bp
from webapp.blueprints.pharmacy import bp as pharmacy_bp
from webapp.blueprints.records import bp as records_bp
from webapp.blueprints.review import bp as review_bp

BLUEPRINTS = [main_bp, auth_bp, face_bp, messages_bp, family_bp, codes_bp, pharmacy_bp, records_bp,
              review_bp, api_bp, invite_bp, aid_bp]
