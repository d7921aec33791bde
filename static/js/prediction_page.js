// The prediction page: show the stored state, then follow it live if it is still running.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const state = JSON.parse(document.getElementById("prediction-state").textContent);
  new window.HearthPrediction.PredictionView(document.querySelector("[data-prediction-view]")).show(state);
});
