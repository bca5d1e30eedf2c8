"""Prompt preset endpoints (docs/protocol.md): parse, authorise, delegate to presets.py."""

from django.http import HttpRequest, HttpResponse, JsonResponse

from chatapp.conversations import presets
from chatapp.models import PromptPreset
from chatapp.safety.access import get_preset_for_user
from chatapp.web.endpoints import api_endpoint, read_json


@api_endpoint("GET", "POST")
def presets_collection(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        preset = presets.create(request.user, read_json(request))  # SettingsError: 400
        return JsonResponse(presets.as_json(preset), status=201)
    rows = PromptPreset.objects.filter(owner=request.user)
    return JsonResponse({"presets": [presets.as_json(p) for p in rows]})


@api_endpoint("GET", "PATCH", "DELETE")
def preset_detail(request: HttpRequest, preset_id: int) -> HttpResponse:
    preset = get_preset_for_user(request.user, preset_id)
    if request.method == "PATCH":
        presets.update(preset, read_json(request))
    elif request.method == "DELETE":
        preset.delete()
        return HttpResponse(status=204)
    return JsonResponse(presets.as_json(preset))
