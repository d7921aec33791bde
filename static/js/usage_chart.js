// Usage charts drawn as inline SVG from the page's own data (no chart library, no CDN):
// daily spend as vertical bars, compute seconds per model as horizontal bars.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== null) element.textContent = text;
  return element;
}

// A "nice" axis maximum (1, 2 or 5 times a power of ten) so gridlines land on round numbers.
function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value);
}

function formatMoney(value) {
  if (value === 0) return "$0";
  if (value >= 1) return `$${value.toFixed(2)}`;
  return `$${value.toLocaleString("en-US", { maximumSignificantDigits: 2, maximumFractionDigits: 8 })}`;
}

function dailyChart(target, days, currency) {
  const width = 720, height = 240, left = 76, bottom = 28, top = 12, right = 8;
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  const max = niceMax(Math.max(0, ...days.map((day) => day.amount)));
  const svg = svgElement("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart-svg",
    "aria-label": `Daily spend in ${currency}, ${days.length} days; highest ${formatMoney(Math.max(0, ...days.map((d) => d.amount)))}`,
  });
  for (let i = 0; i <= 4; i += 1) {
    const y = top + plotHeight - (plotHeight * i) / 4;
    svg.append(svgElement("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid" }));
    svg.append(svgElement("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, formatMoney((max * i) / 4)));
  }
  const slot = plotWidth / Math.max(days.length, 1);
  days.forEach((day, index) => {
    const barHeight = (day.amount / max) * plotHeight;
    const x = left + index * slot + slot * 0.15;
    const bar = svgElement("rect", {
      x, y: top + plotHeight - barHeight, width: slot * 0.7, height: Math.max(barHeight, day.amount > 0 ? 1 : 0),
      class: "bar", "data-date": day.date, "data-amount": day.amount,
    });
    bar.append(svgElement("title", {}, `${day.date}: ${formatMoney(day.amount)}, ${day.predictions} predictions, ${day.seconds.toFixed(1)} s`));
    svg.append(bar);
    const dayOfMonth = Number(day.date.slice(8));
    if (days.length <= 10 || dayOfMonth === 1 || dayOfMonth % 5 === 0) {
      svg.append(svgElement("text", { x: x + slot * 0.35, y: height - 8, class: "axis", "text-anchor": "middle" }, String(dayOfMonth)));
    }
  });
  target.replaceChildren(svg);
}

function modelChart(target, models) {
  const rowHeight = 28, left = 180, right = 70, width = 720;
  const height = rowHeight * models.length + 8;
  const max = Math.max(...models.map((row) => row.seconds), 0) || 1;
  const svg = svgElement("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart-svg",
    "aria-label": `Compute seconds per model: ${models.map((row) => `${row.model} ${row.seconds.toFixed(1)} s`).join(", ")}`,
  });
  models.forEach((row, index) => {
    const y = 4 + index * rowHeight;
    const barWidth = ((width - left - right) * row.seconds) / max;
    svg.append(svgElement("text", { x: left - 8, y: y + 18, class: "axis label", "text-anchor": "end" }, row.model));
    const bar = svgElement("rect", { x: left, y: y + 4, width: Math.max(barWidth, 1), height: rowHeight - 8, class: "bar", "data-model": row.model });
    bar.append(svgElement("title", {}, `${row.model}: ${row.seconds.toFixed(2)} s, ${formatMoney(row.amount)}`));
    svg.append(bar);
    svg.append(svgElement("text", { x: left + barWidth + 6, y: y + 18, class: "axis" }, `${row.seconds.toFixed(1)} s`));
  });
  target.replaceChildren(svg);
}

document.addEventListener("DOMContentLoaded", () => {
  const data = JSON.parse(document.getElementById("usage-chart-data").textContent);
  const daily = document.querySelector('[data-chart="daily"] [data-chart-target]');
  if (daily) dailyChart(daily, data.days, data.currency);
  const models = document.querySelector('[data-chart="models"] [data-chart-target]');
  if (models && data.models.length) modelChart(models, data.models);
});
