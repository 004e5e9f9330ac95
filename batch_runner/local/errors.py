"""AWS-shaped service errors: what the control plane raises and the WSGI layer serialises."""

from __future__ import annotations


class ServiceError(Exception):
    """An error the service answers with: rest-json ``x-amzn-ErrorType`` + ``{"message"}``."""

    code = "InternalServerException"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(ServiceError):
    code = "ValidationException"
    status = 400


class ResourceNotFoundError(ServiceError):
    code = "ResourceNotFoundException"
    status = 404


class ConflictError(ServiceError):
    code = "ConflictException"
    status = 400


class ServiceQuotaExceededError(ServiceError):
    code = "ServiceQuotaExceededException"
    status = 400


class AccessDeniedError(ServiceError):
    code = "AccessDeniedException"
    status = 403


class ThrottlingError(ServiceError):
    code = "ThrottlingException"
    status = 429


class InternalServerError(ServiceError):
    code = "InternalServerException"
    status = 500
