// The live page: fetches /api/state, draws each grid's newest forecast (one lead at a time) beside
// its newest observed frame on the same colour scale, with coastlines, open alerts, rolling
// verification and the model events, and fetches again whenever /api/events says the state moved.
// Everything it loads comes from this server (the page's Content-Security-Policy allows nothing else).
(function () {
  'use strict';

  // ColorBrewer RdYlBu, reversed: blue cold, red warm
  const STOPS = ['#313695', '#4575b4', '#74add1', '#abd9e9', '#e0f3f8', '#ffffbf', '#fee090', '#fdae61',
    '#f46d43', '#d73027', '#a50026'].map(function (h) {
    return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];
  });

  const views = new Map();
  let coastline = null; // topojson mesh of Natural Earth's land: MultiLineString coordinates
  let shownVersion = -1;
  let fetching = false;
  let fetchAgain = false;

  function colour(t) {
    const x = Math.max(0, Math.min(1, t)) * (STOPS.length - 1);
    const i = Math.min(STOPS.length - 2, Math.floor(x));
    const f = x - i;
    return [0, 1, 2].map(function (k) { return Math.round(STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k])); });
  }

  function utc(iso) {
    return iso ? iso.replace('T', ' ').replace(/:00(\.000)?Z$/, '') + ' UTC' : '-';
  }

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function setStatus(state, text) {
    const s = document.getElementById('status');
    s.dataset.state = state;
    s.textContent = text;
  }

  // Cell edges: values sit at cell centres lat0 + r * dlat, lon0 + c * dlon.
  function bounds(g) {
    const lats = [g.lat0 - g.dlat / 2, g.lat0 + (g.height - 0.5) * g.dlat];
    const lons = [g.lon0 - g.dlon / 2, g.lon0 + (g.width - 0.5) * g.dlon];
    return L.latLngBounds([Math.min.apply(null, lats), Math.min.apply(null, lons)],
      [Math.max.apply(null, lats), Math.max.apply(null, lons)]);
  }

  // One field as an image, north up and west left whatever the grid's row and column order.
  function image(g, values, offset, scale) {
    const c = document.createElement('canvas');
    c.width = g.width;
    c.height = g.height;
    const ctx = c.getContext('2d');
    const img = ctx.createImageData(g.width, g.height);
    for (let r = 0; r < g.height; r++) {
      const y = g.dlat < 0 ? r : g.height - 1 - r;
      for (let col = 0; col < g.width; col++) {
        const x = g.dlon > 0 ? col : g.width - 1 - col;
        const v = values[offset + r * g.width + col];
        const p = 4 * (y * g.width + x);
        if (v === null) {
          img.data[p + 3] = 0; // a missing cell shows the map beneath
        } else {
          const rgb = colour((v - scale.min) / (scale.max - scale.min));
          img.data[p] = rgb[0];
          img.data[p + 1] = rgb[1];
          img.data[p + 2] = rgb[2];
          img.data[p + 3] = 255;
        }
      }
    }
    ctx.putImageData(img, 0, 0);
    return c.toDataURL('image/png');
  }

  // The coastline pieces within the box (padded), shifted by 360 degrees where the grid's
  // longitudes run 0..360 while Natural Earth's run -180..180.
  function coastIn(b) {
    if (!coastline) { return []; }
    const pad = 2;
    const s = b.getSouth() - pad, n = b.getNorth() + pad, w = b.getWest() - pad, e = b.getEast() + pad;
    const runs = [];
    [0, 360, -360].forEach(function (shift) {
      if (w > 180 + shift || e < -180 + shift) { return; }
      coastline.coordinates.forEach(function (line) {
        let run = [];
        line.forEach(function (pt) {
          const lon = pt[0] + shift, lat = pt[1];
          if (lat >= s && lat <= n && lon >= w && lon <= e) {
            run.push([lat, lon]);
          } else if (run.length) {
            if (run.length > 1) { runs.push(run); }
            run = [];
          }
        });
        if (run.length > 1) { runs.push(run); }
      });
    });
    return runs;
  }

  function scaleOf(grid) {
    let min = Infinity, max = -Infinity;
    const take = function (v) { if (v !== null) { if (v < min) { min = v; } if (v > max) { max = v; } } };
    if (grid.forecast) { grid.forecast.leads.forEach(function (l) { l.values.forEach(take); }); }
    if (grid.observed) { grid.observed.values.forEach(take); }
    if (!isFinite(min)) { return { min: 0, max: 1 }; }
    min = Math.floor(min);
    max = Math.ceil(max);
    if (max <= min) { max = min + 1; }
    return { min: min, max: max };
  }

  function GridView(id) {
    this.id = id;
    this.lead = 1;
    this.card = el('section', { 'class': 'grid-card', 'data-grid': id });
    this.card.appendChild(el('h2', {}, id));
    this.meta = el('div', { 'class': 'meta' });
    this.card.appendChild(this.meta);
    this.leadBar = el('div', { 'class': 'leads' });
    this.card.appendChild(this.leadBar);
    const maps = el('div', { 'class': 'maps' });
    this.card.appendChild(maps);
    this.forecastTitle = el('h3', {}, 'Forecast');
    this.observedTitle = el('h3', {}, 'Observed');
    const fbox = el('div', { 'class': 'map-box' });
    const obox = el('div', { 'class': 'map-box' });
    this.forecastDiv = el('div', { 'class': 'map forecast-map' });
    this.observedDiv = el('div', { 'class': 'map observed-map' });
    fbox.append(this.forecastTitle, this.forecastDiv);
    obox.append(this.observedTitle, this.observedDiv);
    maps.append(fbox, obox);
    this.legend = el('div', { 'class': 'legend' });
    this.card.appendChild(this.legend);
    const panels = el('div', { 'class': 'panels' });
    this.alertsBox = el('div', { 'class': 'alerts' });
    this.verifyBox = el('div', { 'class': 'verification' });
    panels.append(this.alertsBox, this.verifyBox);
    this.card.appendChild(panels);
    document.getElementById('grids').appendChild(this.card);

    this.forecastMap = this.map(this.forecastDiv);
    this.observedMap = this.map(this.observedDiv);
    this.sync(this.forecastMap, this.observedMap);
    this.sync(this.observedMap, this.forecastMap);
    this.markers = L.layerGroup().addTo(this.forecastMap);
    this.fitted = false;
  }

  GridView.prototype.map = function (div) {
    // plate carree: the image overlay's rows are equally spaced in latitude, as the grid's are
    return L.map(div, { crs: L.CRS.EPSG4326, zoomSnap: 0.25, attributionControl: false, worldCopyJump: false });
  };

  GridView.prototype.sync = function (from, to) {
    let busy = false;
    from.on('moveend', function () {
      if (busy) { return; }
      busy = true;
      to.setView(from.getCenter(), from.getZoom(), { animate: false });
      busy = false;
    });
  };

  GridView.prototype.overlay = function (which, map, g, url) {
    const b = bounds(g);
    if (!this[which]) {
      this[which] = L.imageOverlay(url, b, { className: 'grid-image', opacity: 0.9 }).addTo(map);
      this[which + 'Coast'] = L.polyline(coastIn(b), { className: 'coast', color: '#111', weight: 1, interactive: false })
        .addTo(map);
      this[which + 'Outline'] = L.rectangle(b, { color: '#555', weight: 1, dashArray: '4 3', fill: false, interactive: false })
        .addTo(map);
    } else {
      this[which].setUrl(url);
      this[which].setBounds(b);
      this[which + 'Outline'].setBounds(b);
    }
    return b;
  };

  GridView.prototype.update = function (grid) {
    this.grid = grid;
    const f = grid.forecast;
    const scale = scaleOf(grid);
    this.scale = scale;
    this.meta.replaceChildren();
    if (f) {
      const issued = el('time', { 'class': 'issued', 'data-grid': grid.id, 'datetime': f.issued }, utc(f.issued));
      this.meta.append('Forecast issued ', issued, ' by ' + f.model + ' ' + f.modelVersion);
      if (this.lead > f.leads.length) { this.lead = 1; }
    } else {
      this.meta.append('No forecast yet');
    }
    if (grid.observed) {
      this.meta.append('; newest observed frame ',
        el('time', { 'class': 'observed', 'datetime': grid.observed.valid }, utc(grid.observed.valid)),
        ' (' + grid.observed.source + ')');
    }
    this.drawLeads();
    this.drawMaps();
    this.drawLegend();
    this.drawAlerts();
    this.drawVerification();
  };

  GridView.prototype.drawLeads = function () {
    const self = this;
    const f = this.grid.forecast;
    this.leadBar.replaceChildren();
    if (!f) { return; }
    f.leads.forEach(function (l) {
      const hours = Math.round((Date.parse(l.valid) - Date.parse(f.issued)) / 3600000);
      const b = el('button', { 'type': 'button', 'data-lead': String(l.lead), 'title': 'valid ' + utc(l.valid) },
        '+' + hours + ' h');
      if (l.lead === self.lead) { b.classList.add('selected'); }
      b.addEventListener('click', function () {
        self.lead = l.lead;
        self.drawLeads();
        self.drawMaps();
        self.drawAlerts();
      });
      self.leadBar.appendChild(b);
    });
  };

  GridView.prototype.drawMaps = function () {
    const grid = this.grid;
    const f = grid.forecast;
    let b = null;
    if (f) {
      const lead = f.leads[this.lead - 1];
      this.forecastTitle.textContent = 'Forecast +' + Math.round((Date.parse(lead.valid) - Date.parse(f.issued)) / 3600000)
        + ' h, valid ' + utc(lead.valid);
      b = this.overlay('forecastLayer', this.forecastMap, f.geometry, image(f.geometry, lead.values, 0, this.scale));
    }
    if (grid.observed) {
      this.observedTitle.textContent = 'Observed, valid ' + utc(grid.observed.valid);
      const ob = this.overlay('observedLayer', this.observedMap, grid.observed.geometry,
        image(grid.observed.geometry, grid.observed.values, 0, this.scale));
      b = b || ob;
    }
    if (b && !this.fitted) {
      this.fitted = true;
      this.forecastMap.fitBounds(b);
      this.observedMap.fitBounds(b);
    }
  };

  GridView.prototype.drawLegend = function () {
    this.legend.replaceChildren();
    const c = document.createElement('canvas');
    c.width = 256;
    c.height = 1;
    const ctx = c.getContext('2d');
    for (let x = 0; x < 256; x++) {
      const rgb = colour(x / 255);
      ctx.fillStyle = 'rgb(' + rgb.join(',') + ')';
      ctx.fillRect(x, 0, 1, 1);
    }
    this.legend.append(el('span', {}, this.scale.min + ' \u00b0C'), c, el('span', {}, this.scale.max + ' \u00b0C'),
      el('span', { 'class': 'note' }, '(one scale for forecast and observed)'));
  };

  GridView.prototype.drawAlerts = function () {
    const self = this;
    const alerts = this.grid.alerts;
    this.markers.clearLayers();
    this.alertsBox.replaceChildren(el('h3', {}, 'Open alerts'));
    if (!alerts.length) {
      this.alertsBox.appendChild(el('p', { 'class': 'empty' }, 'none'));
      return;
    }
    const t = el('table');
    t.appendChild(el('tr')).append(el('th', {}, 'rule'), el('th', {}, 'kind'), el('th', {}, 'lead'),
      el('th', {}, 'valid'), el('th', {}, 'where'), el('th', {}, 'value'));
    alerts.forEach(function (a) {
      const where = a.lat === null ? 'whole grid' : a.lat.toFixed(2) + ', ' + a.lon.toFixed(2);
      const value = a.kind === 'SKILL_DROP' ? 'skill ' + a.skill.toFixed(3) + ' < ' + a.threshold
        : (a.kind === 'RAPID_CHANGE' ? a.value.toFixed(1) + ' K change' : a.value.toFixed(1) + ' \u00b0C');
      t.appendChild(el('tr', { 'class': 'alert' })).append(el('td', {}, a.rule), el('td', {}, a.kind),
        el('td', {}, a.lead > 0 ? '+' + a.lead : 'all'), el('td', {}, utc(a.valid)), el('td', {}, where),
        el('td', {}, value));
      if (a.lat !== null && a.lead === self.lead) {
        L.circleMarker([a.lat, a.lon], { radius: 7, color: '#000', weight: 2, fillColor: '#fff', fillOpacity: 0.6,
          className: 'alert-marker' })
          .bindTooltip(a.rule + ' (' + a.kind + '): ' + value + ' at +' + a.lead)
          .addTo(self.markers);
      }
    });
    this.alertsBox.appendChild(t);
  };

  GridView.prototype.drawVerification = function () {
    const v = this.grid.verification;
    this.verifyBox.replaceChildren(el('h3', {}, 'Verification, rolling ' + v.window.replace('PT', '').toLowerCase()
      + ' up to ' + utc(v.upTo)));
    if (!v.leads.length) {
      this.verifyBox.appendChild(el('p', { 'class': 'empty' }, 'no forecast verified yet'));
      return;
    }
    const t = el('table', { 'class': 'skill' });
    // one coverage column per interval level any lead carried
    const levels = Array.from(new Set([].concat.apply([], v.leads.map(function (r) {
      return Object.keys(r.coverage || {});
    })))).sort(function (a, b) { return a - b; });
    const head = t.appendChild(el('tr'));
    head.append(el('th', {}, 'lead'), el('th', {}, 'MAE K'), el('th', {}, 'persistence K'), el('th', {}, 'skill'));
    levels.forEach(function (l) { head.append(el('th', {}, 'cov ' + Math.round(l * 1000) / 10 + '%')); });
    head.append(el('th', {}, 'n'));
    v.leads.forEach(function (r) {
      const skill = r.skill === null ? '-' : (r.skill >= 0 ? '+' : '') + r.skill.toFixed(3);
      const row = t.appendChild(el('tr'));
      row.append(el('td', {}, '+' + r.lead), el('td', {}, r.mae.toFixed(3)),
        el('td', {}, r.persistenceMae === null ? '-' : r.persistenceMae.toFixed(3)),
        el('td', r.skill !== null && r.skill < 0 ? { 'class': 'skill-bad' } : {}, skill));
      levels.forEach(function (l) {
        const c = (r.coverage || {})[l];
        row.append(el('td', {}, c === undefined ? '-' : (100 * c).toFixed(1) + '%'));
      });
      row.append(el('td', {}, String(r.scores)));
    });
    this.verifyBox.append(t, chart(v.leads));
  };

  // MAE per lead, the model's bar beside persistence's
  function chart(rows) {
    const ns = 'http://www.w3.org/2000/svg';
    const w = 26 * rows.length + 30, h = 90;
    const top = Math.max.apply(null, rows.map(function (r) { return Math.max(r.mae, r.persistenceMae || 0); })) || 1;
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'chart');
    svg.setAttribute('width', String(w));
    svg.setAttribute('height', String(h + 14));
    rows.forEach(function (r, i) {
      [[r.mae, 'model'], [r.persistenceMae, 'persistence']].forEach(function (bar, j) {
        if (bar[0] === null) { return; }
        const rect = document.createElementNS(ns, 'rect');
        const bh = Math.max(1, bar[0] / top * h);
        rect.setAttribute('x', String(4 + i * 26 + j * 10));
        rect.setAttribute('y', String(h - bh));
        rect.setAttribute('width', '9');
        rect.setAttribute('height', String(bh));
        rect.setAttribute('class', bar[1]);
        svg.appendChild(rect);
      });
      const label = document.createElementNS(ns, 'text');
      label.setAttribute('x', String(4 + i * 26));
      label.setAttribute('y', String(h + 12));
      label.textContent = '+' + r.lead;
      svg.appendChild(label);
    });
    const key = document.createElementNS(ns, 'text');
    key.setAttribute('x', String(w - 28));
    key.setAttribute('y', '10');
    key.textContent = 'MAE';
    svg.appendChild(key);
    return svg;
  }

  function drawEvents(events) {
    const list = document.getElementById('model-events');
    list.replaceChildren();
    if (!events.length) {
      list.appendChild(el('li', { 'class': 'empty' }, 'none yet'));
    }
    events.forEach(function (e) {
      const version = e.kind === 'ACCEPTED' && e.oldVersion ? e.oldVersion + ' -> ' + e.newVersion : (e.newVersion || '');
      list.appendChild(el('li', { 'class': 'model-event', 'data-kind': e.kind },
        utc(e.at) + '  ' + e.kind + '  ' + (e.grid || '?') + '  ' + (e.model || '') + ' ' + version + '  ' + e.path
        + (e.reason ? ': ' + e.reason : '')));
    });
  }

  function render(state) {
    const waiting = document.getElementById('waiting');
    if (waiting && state.grids.length) { waiting.remove(); }
    state.grids.forEach(function (g) {
      if (!views.has(g.id)) { views.set(g.id, new GridView(g.id)); }
      views.get(g.id).update(g);
    });
    drawEvents(state.modelEvents);
    shownVersion = state.version;
    document.body.dataset.version = String(state.version);
    if (state.feedProblem) {
      setStatus('error', state.feedProblem);
    } else if (document.getElementById('status').dataset.state === 'error') {
      setStatus('live', 'live');
    }
  }

  // One fetch at a time; a change announced meanwhile fetches once more afterwards.
  function refresh() {
    if (fetching) { fetchAgain = true; return; }
    fetching = true;
    fetch('/api/state', { cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(render)
      .catch(function (e) { setStatus('error', 'cannot read the state: ' + e.message); })
      .finally(function () {
        fetching = false;
        if (fetchAgain) { fetchAgain = false; refresh(); }
      });
  }

  fetch('/assets/land-50m.json')
    .then(function (r) { return r.json(); })
    .then(function (land) { coastline = topojson.mesh(land, land.objects.land); })
    .catch(function (e) { setStatus('error', 'no coastlines: ' + e.message); })
    .finally(function () {
      refresh();
      const events = new EventSource('/api/events');
      events.addEventListener('version', function (e) {
        if (Number(e.data) !== shownVersion) { refresh(); }
      });
      events.onopen = function () { setStatus('live', 'live'); };
      events.onerror = function () { setStatus('reconnecting', 'reconnecting\u2026'); };
    });
}());
