"""The admin's dialogs for users: a new account, turning one off or on with a reason, a new password or PIN."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QPlainTextEdit, QWidget

from core.context import ServiceContext
from core.errors import ValidationError
from core.storage.models import Organisation
from core.users.directory import UserSummary, reset_secrets, set_user_active
from core.users.roles import PrescriberType, Role
from core.users.service import NewUser, create_user
from desktop.form_dialog import FormDialog

ROLE_NAMES = {
    Role.PRESCRIBER: "Prescriber",
    Role.PHARMACIST: "Pharmacist",
    Role.TECHNICIAN: "Pharmacy technician",
    Role.ADMIN: "Clinic admin",
}
PRESCRIBER_TYPE_NAMES = {
    PrescriberType.DOCTOR: "Doctor (GMC)",
    PrescriberType.NURSE: "Nurse prescriber (NMC)",
    PrescriberType.DENTIST: "Dentist (GDC)",
    PrescriberType.PHARMACIST_PRESCRIBER: "Pharmacist prescriber (GPhC)",
}


def _secret_field(name: str, placeholder: str) -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setAccessibleName(name)
    field.setPlaceholderText(placeholder)
    return field


def _confirmed(first: QLineEdit, second: QLineEdit, what: str) -> str | None:
    """The secret typed twice (None when left empty); a mismatch is refused before anything is written."""
    if first.text() != second.text():
        raise ValidationError(f"The two {what}s are not the same: type them again.")
    return first.text() or None


class NewUserDialog(FormDialog):
    def __init__(self, parent: QWidget, ctx: ServiceContext, organisations: list[Organisation]) -> None:
        super().__init__(parent, "Add a user", "Add user")
        self.ctx = ctx
        self.username = QLineEdit()
        self.username.setAccessibleName("User name")
        self.username.setPlaceholderText("e.g. jsmith (lower case)")
        self.full_name = QLineEdit()
        self.full_name.setAccessibleName("Full name")
        self.full_name.setPlaceholderText("as printed on prescriptions, e.g. Dr Jane Smith")
        self.role = QComboBox()
        self.role.setAccessibleName("Role")
        for role, name in ROLE_NAMES.items():
            self.role.addItem(name, role)
        self.prescriber_type = QComboBox()
        self.prescriber_type.setAccessibleName("Prescriber type")
        for kind, name in PRESCRIBER_TYPE_NAMES.items():
            self.prescriber_type.addItem(name, kind)
        self.registration = QLineEdit()
        self.registration.setAccessibleName("Professional registration number")
        self.organisation = QComboBox()
        self.organisation.setAccessibleName("Organisation")
        self.organisation.addItem("None", None)
        for org in organisations:
            self.organisation.addItem(f"{org.name} ({org.kind})", org.id)
        self.password = _secret_field("Password", "at least 10 characters")
        self.password_again = _secret_field("Password again", "the same again")
        self.pin = _secret_field("PIN", "4 to 8 digits (prescribers need one)")
        self.pin_again = _secret_field("PIN again", "the same again")
        self.form.addRow("User name", self.username)
        self.form.addRow("Full name", self.full_name)
        self.form.addRow("Role", self.role)
        self.form.addRow("Prescriber type", self.prescriber_type)
        self.form.addRow("Registration no.", self.registration)
        self.form.addRow("Organisation", self.organisation)
        self.form.addRow("Password", self.password)
        self.form.addRow("Password again", self.password_again)
        self.form.addRow("PIN", self.pin)
        self.form.addRow("PIN again", self.pin_again)
        self.role.currentIndexChanged.connect(self._role_changed)
        self._role_changed()
        self.resize(520, self.sizeHint().height())
        self.username.setFocus()

    def _role_changed(self) -> None:
        prescriber = Role(self.role.currentData()) is Role.PRESCRIBER
        for field in (self.prescriber_type, self.registration):
            field.setEnabled(prescriber)
            self.form.setRowVisible(field, prescriber)

    def write(self) -> object:
        role = Role(self.role.currentData())  # the combo box hands enum members back as plain strings
        prescriber = role is Role.PRESCRIBER
        new = NewUser(
            username=self.username.text().strip().lower(),
            full_name=self.full_name.text(),
            role=role,
            password=_confirmed(self.password, self.password_again, "password") or "",
            pin=_confirmed(self.pin, self.pin_again, "PIN"),
            prescriber_type=PrescriberType(self.prescriber_type.currentData()) if prescriber else None,
            registration_number=self.registration.text() if prescriber else None,
            organisation_id=self.organisation.currentData(),
        )
        return create_user(self.ctx, new)


class ActivationDialog(FormDialog):
    """Deactivate (or reactivate) an account; the reason goes to the audit log."""

    def __init__(self, parent: QWidget, ctx: ServiceContext, user: UserSummary) -> None:
        self.activate = not user.active
        verb = "Reactivate" if self.activate else "Deactivate"
        super().__init__(parent, f"{verb} {user.full_name} ({user.username})", verb)
        self.ctx, self.user = ctx, user
        self.reason = QPlainTextEdit()
        self.reason.setAccessibleName("Reason")
        self.reason.setTabChangesFocus(True)
        self.reason.setPlaceholderText(
            "e.g. back from leave" if self.activate else "e.g. left the practice on 30 November"
        )
        self.reason.setMaximumHeight(90)
        self.form.addRow("Reason", self.reason)
        if not self.activate:
            hint = QLabel("They will not be able to sign in. Their name stays on everything they did.")
            hint.setWordWrap(True)
            self.form.addRow("", hint)
        self.resize(480, self.sizeHint().height())
        self.reason.setFocus()

    def write(self) -> object:
        set_user_active(self.ctx, self.user.id, self.activate, self.reason.toPlainText())
        return self.user.id


class ResetSecretsDialog(FormDialog):
    """A new password and/or PIN for someone who lost theirs (also lifts a lockout)."""

    def __init__(self, parent: QWidget, ctx: ServiceContext, user: UserSummary) -> None:
        super().__init__(parent, f"New password or PIN for {user.full_name}", "Save")
        self.ctx, self.user = ctx, user
        self.password = _secret_field("New password", "leave empty to keep the password")
        self.password_again = _secret_field("New password again", "the same again")
        self.pin = _secret_field("New PIN", "leave empty to keep the PIN")
        self.pin_again = _secret_field("New PIN again", "the same again")
        self.form.addRow("New password", self.password)
        self.form.addRow("Password again", self.password_again)
        self.form.addRow("New PIN", self.pin)
        self.form.addRow("PIN again", self.pin_again)
        self.resize(480, self.sizeHint().height())
        self.password.setFocus()

    def write(self) -> object:
        password = _confirmed(self.password, self.password_again, "password")
        pin = _confirmed(self.pin, self.pin_again, "PIN")
        reset_secrets(self.ctx, self.user.id, password, pin)
        return self.user.id
