# ruff: noqa: E501 - Appwrite's messages, verbatim
"""Appwrite's error catalogue (the subset the stand-in raises), as in Appwrite's ``app/config/errors.php``.

Each type maps to its HTTP status and Appwrite's own default message (``%s`` filled from ``params``, as Appwrite
does with ``sprintf``). Error bodies are ``{"message", "code", "type", "version"}`` with ``code`` an integer, as the
real server sends it (its OpenAPI spec says string: see ``contract.SPEC_OVERRIDES``).
"""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str]] = {
    "general_unauthorized_scope": (
        401,
        "The current user or API key does not have the required scopes to access the requested resource.",
    ),
    "general_rate_limit_exceeded": (
        429,
        "Rate limit for the current endpoint has been exceeded. Please try again after some time.",
    ),
    "general_argument_invalid": (
        400,
        "The request contains one or more invalid arguments. Please refer to the endpoint documentation.",
    ),
    "general_query_invalid": (400, "The query's syntax is invalid. Please check the query and try again."),
    "general_route_not_found": (
        404,
        "Route not found. Please ensure the endpoint is configured correctly and that the API route is valid for this SDK version. Refer to the API docs for more details.",
    ),
    "general_cursor_not_found": (
        400,
        "The cursor is invalid. This can happen if the item represented by the cursor has been deleted.",
    ),
    "general_server_error": (500, "An internal server error occurred."),
    "general_unknown": (500, "An unknown error has occurred. Please check the logs for more information."),
    "general_bad_request": (400, "There was an error processing your request. Please check the inputs and try again."),
    "general_access_forbidden": (401, "Access to this API is forbidden."),
    "user_invalid_credentials": (401, "Invalid credentials. Please check the email and password."),
    "user_unauthorized": (401, "The current user is not authorized to perform the requested action."),
    "user_blocked": (403, "The current user has been blocked."),
    "user_not_found": (404, "User with the requested ID could not be found."),
    "user_already_exists": (409, "A user with the same id, email, or phone already exists in this project."),
    "user_email_already_exists": (409, "A user with the same email already exists in the current project."),
    "user_session_not_found": (404, "The current user session could not be found."),
    "user_jwt_and_cookie_set": (
        403,
        "JWT and cookie used in the same request. Use either `setJWT` or `setCookie`. Learn about which authentication method to use in the SSR docs: https://appwrite.io/docs/products/auth/server-side-rendering",
    ),
    "user_jwt_invalid": (
        401,
        "The JWT token is invalid. Please check the value of the X-Appwrite-JWT header to ensure the correct token is being used.",
    ),
    "user_password_mismatch": (400, "Passwords do not match. Please check the password and confirm password."),
    "project_not_found": (
        404,
        "Project with the requested ID could not be found. Please check the value of the X-Appwrite-Project header to ensure the correct project ID is being used.",
    ),
    "project_key_expired": (401, "The project key has expired. Please generate a new key using the Appwrite console."),
    "team_not_found": (404, "Team with the requested ID could not be found."),
    "team_already_exists": (409, "Team with requested ID already exists. Please choose a different ID and try again."),
    "membership_not_found": (404, "Membership with the requested ID could not be found."),
    "membership_already_confirmed": (409, "Membership is already confirmed."),
    "database_not_found": (404, "Database with the requested ID '%s' could not be found."),
    "database_already_exists": (
        409,
        "Database with the requested ID '%s' already exists. Try again with a different ID or use ID.unique() to generate a unique ID.",
    ),
    "table_not_found": (404, "Table with the requested ID '%s' could not be found."),
    "table_already_exists": (
        409,
        "A table with the requested ID '%s' already exists. Try again with a different ID or use ID.unique() to generate a unique ID.",
    ),
    "column_not_found": (404, "Column with the requested key '%s' could not be found."),
    "column_already_exists": (
        409,
        "Column with the requested key '%s' already exists. Column keys must be unique, try again with a different key.",
    ),
    "column_value_invalid": (400, "The column value is invalid. Please check the type, range and value of the column."),
    "column_unknown": (
        400,
        "The column '%s' required for the index could not be found. Please confirm all your columns are in the available state.",
    ),
    "column_default_unsupported": (400, "Default values cannot be set for array or required columns."),
    "index_already_exists": (409, "Index with the requested key '%s' already exists. Try again with a different key."),
    "index_not_found": (404, "Index with the requested key '%s' could not be found."),
    "index_invalid": (400, "Index invalid."),
    "column_type_invalid": (400, "The column '%s' type is invalid."),
    "column_format_unsupported": (400, "The requested column format is not supported."),
    "row_not_found": (404, "Row with the requested ID '%s' could not be found."),
    "row_already_exists": (
        409,
        "Row with the requested ID '%s' already exists. Try again with a different ID or use ID.unique() to generate a unique ID.",
    ),
    "row_invalid_structure": (
        400,
        "The row structure is invalid. Please ensure the columns match the table definition.",
    ),
    "row_missing_data": (400, "The row data is missing. Try again with row data populated."),
    "row_missing_payload": (
        400,
        "The row data and permissions are missing. You must provide either row data or permissions to be updated.",
    ),
    "row_update_conflict": (409, "Remote row is newer than local."),
    "row_unique_constraint_violation": (
        409,
        "Row violates a unique column constraint. Try again with different value(s).",
    ),
    "document_not_found": (404, "Document with the requested ID '%s' could not be found."),
    "document_invalid_structure": (
        400,
        "The document structure is invalid. Please ensure the attributes match the collection definition.",
    ),
    "database_query_order_null": (
        400,
        "The order attribute/column had a null value. Cursor pagination requires all documents/rows order attribute/column values are non-null.",
    ),
    "transaction_not_found": (404, "Transaction with the requested ID '%s' could not be found."),
    "transaction_conflict": (409, "The transaction has a conflict. Please resolve the conflict and try again."),
    "transaction_limit_exceeded": (400, "The maximum number of operations per transaction has been exceeded."),
    "transaction_not_ready": (400, "The transaction is not ready yet. Please try again later."),
    "transaction_expired": (410, "The transaction has expired. Please create a new transaction and try again."),
    "transaction_failed": (400, "The transaction has errored. Please check the transaction data and try again."),
    "transaction_invalid": (400, "The transaction is invalid. Please check the transaction state and try again."),
    "function_not_found": (404, "Function with the requested ID could not be found."),
    "function_synchronous_timeout": (
        408,
        "Synchronous function execution timed out. Use asynchronous execution instead, or ensure the execution duration doesn't exceed 30 seconds.",
    ),
    "function_execute_permission_missing": (
        401,
        'To execute function using domain, execute permissions must include "any" or "guests".',
    ),
    "execution_not_found": (404, "Execution with the requested ID could not be found."),
    "general_api_disabled": (403, "The requested API is disabled. You can enable the API from the Appwrite console."),
}


class ApiError(Exception):
    """An Appwrite error answer: raised anywhere in a handler, turned into the JSON error body."""

    def __init__(
        self,
        error_type: str,
        message: str | None = None,
        *params: object,
        code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        default_code, description = ERRORS[error_type]
        if message is None:
            message = description % params if params else description.replace("%s", "")
        super().__init__(message)
        self.type = error_type
        self.message = message
        self.code = default_code if code is None else code
        self.headers = headers or {}
