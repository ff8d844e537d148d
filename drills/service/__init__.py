"""The demo Hospital-ERP backend (patients, appointments) whose releases carry the drills' bugs."""
