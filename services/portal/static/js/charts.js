// Draw the KPI charts from the JSON block the server rendered (no inline script).
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || !window.Chart) { return; }
  var payload = JSON.parse(block.textContent);
  var colours = ["#1f6feb", "#b45309", "#15803d"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var data = payload.charts[canvas.dataset.chart];
    if (!data) { return; }
    var names = Object.keys(data.series);
    new window.Chart(canvas, {
      type: canvas.dataset.chart === "delay" ? "line" : "bar",
      data: {
        labels: data.labels,
        datasets: names.map(function (name, i) {
          return { label: payload.names[name] || name, data: data.series[name],
                   backgroundColor: colours[i % colours.length], borderColor: colours[i % colours.length] };
        })
      },
      options: { responsive: true, animation: false }
    });
  });
})();
