"""Tests of the shipped medical-device application: metadata/ and workflows/ run by the engines."""
