"""The human-study web app: the factory in :mod:`xai_eval.web.app`, one blueprint package per
audience (:mod:`~xai_eval.web.participant`, :mod:`~xai_eval.web.api`,
:mod:`~xai_eval.web.admin`) over the study services, and the modules they share.
"""
