"""Async JSON views over the users' profiles, slow and optimized (seed 001).

GET /users/profiles/?usernames=a&usernames=b, /users/cached/?ids=1&ids=2 and
/users/<username>/.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse

from users.profiles import (
    cached_profiles,
    cached_profiles_slow,
    profile_by_username,
    profiles_by_username,
    profiles_by_username_slow,
)


def _ids(request: HttpRequest) -> list[int]:
    return [int(value) for value in request.GET.getlist("ids") if value.isdigit()]


async def user_profiles_slow(request: HttpRequest) -> JsonResponse:
    usernames = request.GET.getlist("usernames")
    return JsonResponse(await profiles_by_username_slow(usernames), safe=False)


async def user_profiles(request: HttpRequest) -> JsonResponse:
    usernames = request.GET.getlist("usernames")
    return JsonResponse(await profiles_by_username(usernames), safe=False)


async def cached_user_profiles_slow(request: HttpRequest) -> JsonResponse:
    return JsonResponse(await cached_profiles_slow(_ids(request)), safe=False)


async def cached_user_profiles(request: HttpRequest) -> JsonResponse:
    return JsonResponse(await cached_profiles(_ids(request)), safe=False)


async def user_profile(request: HttpRequest, username: str) -> JsonResponse:
    profile = await profile_by_username(username)
    if profile is None:
        raise Http404(f"no user {username!r}")
    return JsonResponse(profile)
