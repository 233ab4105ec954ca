// Draws report charts with ECharts from the JSON the report API returns: bar, stacked bar,
// line, pie, donut, a KPI number or a table. Used by report pages and by dashboard cards.
window.lianku = window.lianku || {};
lianku.drawReport = function (holder, data, chart) {
  chart = chart || data.chart || {};
  const rows = data.rows.filter((row) => row.level === 0);
  const column = (name) => data.columns.find((c) => c.name === name) || {};
  const label = (name) => column(name).label || name;
  const number = (value) => (value === null || value === undefined ? null : Number(value));
  const escape = (text) => String(text ?? "–").replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const y = chart.y || data.columns.filter((c) => c.kind === "measure").map((c) => c.name);
  if (chart.type === "kpi" || chart.type === "table") {
    const previous = echarts.getInstanceByDom(holder);
    if (previous) previous.dispose();
  }
  if (chart.type === "table") {
    holder.style.height = "auto";
    const total = (holder.closest("[data-total-text]") || { dataset: {} }).dataset.totalText;
    const urls = (holder.closest("[data-record-url]") || { dataset: {} }).dataset;
    holder.innerHTML = lianku.reportTable(data, rows, escape, total || "Σ", urls);
    return;
  }
  if (chart.type === "kpi") {
    const first = y[0];
    const value = data.totals ? data.totals.values[first] : rows.length ? rows[0].values[first] : null;
    holder.innerHTML = `<div class="kpi"><div class="kpi-value">${escape(lianku.shown(column(first), value))}</div>` +
      `<div class="kpi-label">${escape(label(first))}</div></div>`;
    return;
  }
  const x = chart.x || (data.columns.find((c) => c.kind === "dimension") || {}).name;
  let option;
  if (chart.type === "pie" || chart.type === "donut") {
    option = {
      tooltip: { trigger: "item" },
      legend: { bottom: 0, type: "scroll" },
      series: [{
        type: "pie",
        radius: chart.type === "donut" ? ["45%", "70%"] : "70%",
        data: rows.map((row) => ({ name: lianku.cellLabel(row, x), value: number(row.values[y[0]]) })),
      }],
    };
  } else {
    const categories = [...new Set(rows.map((row) => row.values[x]))];
    const stacked = chart.type === "stacked_bar";
    const type = chart.type === "line" ? "line" : "bar";
    const pivot = data.columns.filter((c) => c.name.includes("·") && !c.name.startsWith("total·"));
    const series = (pivot.length ? pivot : y.map((name) => ({ name, label: label(name) })))
      .map((column) => ({
        name: column.label, type, stack: stacked ? "all" : undefined,
        data: categories.map((value) => {
          const row = rows.find((r) => r.values[x] === value);
          return row ? number(row.values[column.name]) : null;
        }),
      }));
    option = {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0, type: "scroll" },
      grid: { left: 48, right: 16, top: 16, bottom: 56 },
      xAxis: {
        type: "category",
        data: categories.map((value) => lianku.cellLabel(rows.find((r) => r.values[x] === value), x)),
      },
      yAxis: { type: "value" },
      series,
    };
  }
  let instance = echarts.getInstanceByDom(holder);
  if (!instance) {
    instance = echarts.init(holder);
    window.addEventListener("resize", () => instance.resize());
  }
  instance.setOption(option, true);
};

// A figure as people read it: money with two decimals, quantities without trailing zeros.
lianku.shown = function (column, value) {
  if (value === null || value === undefined || value === "") return value;
  if (column.type === "money") {
    return Number(value).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  if (column.type === "decimal") return String(value).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  return value;
};

// A code's label (an option, a stock status) where the report gives one, else its value.
lianku.cellLabel = function (row, name) {
  const labels = row.labels || {};
  return name in labels ? labels[name] : row.values[name];
};

// Where a cell with a drill leads, as the report page links it: the record whose id the row
// holds, the document whose number the cell holds, or another report given the cell's value.
// ``urls`` holds the app's addresses for a record (``.../FORM/0``), a document by number
// (``.../NUMBER``) and a report page (``.../REPORT``); without them, nowhere.
lianku.cellHref = function (column, row, urls) {
  const target = (row.links || {})[column.name];
  const link = column.link;
  if (!link || target === undefined || target === null) return null;
  if (link.form && urls.recordUrl) {
    return urls.recordUrl.replace("/FORM/0", `/${encodeURIComponent(link.form)}/${encodeURIComponent(target)}`);
  }
  if (link.document && urls.documentUrl) {
    return urls.documentUrl.replace("/NUMBER", `/${encodeURIComponent(target)}`);
  }
  if (link.report && urls.reportPageUrl) {
    const page = urls.reportPageUrl.replace("/REPORT", `/${encodeURIComponent(link.report)}`);
    // the parameters the link keeps, as this report ran with them (its period, its location)
    const query = new URLSearchParams(link.carry || {});
    query.set(link.param, target);
    return `${page}?${query.toString()}`;
  }
  return null;
};

// A card's table, as the report page draws it: the rows (first 20), highlights, totals, and a
// click on a drill column's cell opening what it leads to.
lianku.reportTable = function (data, rows, escape, totalText, urls) {
  const columns = data.columns;
  const numbers = ["integer", "decimal", "money"];
  const cell = (column, text, style, tag, href) => {
    const classes = [numbers.includes(column.type) ? "text-end" : "", style ? `table-${style}` : ""];
    const mark = style ? ` data-highlight="${escape(style)}"` : "";
    const shown = href ? `<a href="${escape(href)}" data-link>${escape(text)}</a>` : escape(text);
    return `<${tag} class="${classes.join(" ").trim()}"${mark}>${shown}</${tag}>`;
  };
  const line = (row) => `<tr>${columns.map((c) =>
    cell(c, lianku.shown(c, lianku.cellLabel(row, c.name)), (row.styles || {})[c.name], "td",
         lianku.cellHref(c, row, urls || {}))).join("")}</tr>`;
  const head = columns.map((c) => cell(c, c.label, null, "th")).join("");
  const body = rows.length ? rows.slice(0, 20).map(line).join("")
    : `<tr><td colspan="${columns.length}" class="text-muted">–</td></tr>`;
  const totals = data.totals ? `<tfoot class="fw-bold"><tr>${columns.map((c, index) => {
    const value = data.totals.values[c.name];
    const text = value === null || value === undefined ? (index === 0 ? totalText : "") : lianku.shown(c, value);
    return cell(c, text, null, "td");
  }).join("")}</tr></tfoot>` : "";
  return `<div class="table-responsive"><table class="table table-sm text-nowrap card-table mb-0">` +
    `<thead><tr>${head}</tr></thead><tbody>${body}</tbody>${totals}</table></div>`;
};

// A report page: the data is embedded in the page.
(function () {
  const holder = document.getElementById("chart");
  const source = document.getElementById("report-data");
  if (holder && source && window.echarts) lianku.drawReport(holder, JSON.parse(source.textContent));
})();

// Dashboard cards: each fetches its report and redraws every data-refresh seconds.
(function () {
  document.querySelectorAll("[data-report-url]").forEach((card) => {
    const holder = card.querySelector(".card-chart");
    const chart = { type: card.dataset.chart };
    if (card.dataset.measure) chart.y = [card.dataset.measure];  // the figure the card shows
    const load = () => fetch(card.dataset.reportUrl, { headers: { Accept: "application/json" } })
      .then((response) => response.json())
      .then((data) => {
        if (!data.rows) throw new Error(JSON.stringify(data));
        lianku.drawReport(holder, data, { ...(data.chart || {}), ...chart });
        card.dataset.loaded = String(Number(card.dataset.loaded || 0) + 1);
      })
      .catch(() => { holder.textContent = card.dataset.errorText; });
    load();
    const seconds = Number(card.dataset.refresh || 0);
    if (seconds) setInterval(load, seconds * 1000);
  });
})();
