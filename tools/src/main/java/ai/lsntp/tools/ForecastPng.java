package ai.lsntp.tools;

import ai.lsntp.avro.Forecast;
import ai.lsntp.codec.PackedFloats;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * One PNG map per forecast lead (Java2D, headless): cells coloured on one temperature scale shared
 * by all leads of the forecast, north up, with a title and a colour bar in degrees Celsius.
 */
final class ForecastPng {
  static final int CELL = 10;

  private ForecastPng() {}

  static List<Path> write(Forecast f, Path dir) throws IOException {
    Files.createDirectories(dir);
    int h = f.getHeight();
    int w = f.getWidth();
    float[] v = PackedFloats.decode(f.getValues());
    if (v.length != f.getBeta() * h * w) {
      throw new IOException("forecast carries " + v.length + " values, expected beta*height*width = "
          + f.getBeta() + "*" + h + "*" + w);
    }
    float lo = Float.POSITIVE_INFINITY;
    float hi = Float.NEGATIVE_INFINITY;
    for (float x : v) {
      if (!Float.isNaN(x)) {
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
    }
    if (!(hi > lo)) {
      hi = lo + 1;
    }
    List<Path> out = new ArrayList<>();
    boolean northUp = f.getDlat() < 0; // row 0 is the northernmost row
    int top = 36;
    int bar = 50;
    for (int lead = 0; lead < f.getBeta(); lead++) {
      BufferedImage img = new BufferedImage(w * CELL + 20, h * CELL + top + bar, BufferedImage.TYPE_INT_RGB);
      Graphics2D g = img.createGraphics();
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, img.getWidth(), img.getHeight());
      for (int r = 0; r < h; r++) {
        int y = top + (northUp ? r : h - 1 - r) * CELL;
        for (int c = 0; c < w; c++) {
          float x = v[(lead * h + r) * w + c];
          g.setColor(Float.isNaN(x) ? Color.LIGHT_GRAY : colour((x - lo) / (hi - lo)));
          g.fillRect(10 + c * CELL, y, CELL, CELL);
        }
      }
      g.setColor(Color.BLACK);
      g.setStroke(new BasicStroke(1));
      g.drawRect(10, top, w * CELL, h * CELL);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      long leadMs = f.getValidTimes().get(lead).toEpochMilli() - f.getIssueTime().toEpochMilli();
      g.drawString(String.format(Locale.ROOT, "%s  %s %s", f.getGridId(), f.getModelName(), f.getModelVersion()), 10, 15);
      g.drawString(String.format(Locale.ROOT, "issued %s  valid %s (%s)", Stamp.readable(f.getIssueTime()),
          Stamp.readable(f.getValidTimes().get(lead)), Stamp.lead(leadMs)), 10, 30);
      int by = top + h * CELL + 10;
      int bw = w * CELL;
      for (int i = 0; i < bw; i++) {
        g.setColor(colour(i / (float) (bw - 1)));
        g.fillRect(10 + i, by, 1, 14);
      }
      g.setColor(Color.BLACK);
      g.drawString(String.format(Locale.ROOT, "%.1f °C", lo - 273.15), 10, by + 30);
      String hiText = String.format(Locale.ROOT, "%.1f °C", hi - 273.15);
      g.drawString(hiText, 10 + bw - g.getFontMetrics().stringWidth(hiText), by + 30);
      g.dispose();
      Path p = dir.resolve(ForecastNetcdf.safe(f.getGridId()) + "_" + Stamp.compact(f.getIssueTime()) + "_"
          + Stamp.lead(leadMs).replace("+", "lead") + ".png");
      ImageIO.write(img, "png", p.toFile());
      out.add(p);
    }
    return out;
  }

  /** Blue (cold) - white - red (warm). */
  static Color colour(float t) {
    t = Math.max(0f, Math.min(1f, t));
    if (t < 0.5f) {
      float a = t / 0.5f;
      return new Color((int) (40 + a * 215), (int) (80 + a * 175), 255);
    }
    float a = (t - 0.5f) / 0.5f;
    return new Color(255, (int) (255 - a * 215), (int) (255 - a * 215));
  }
}
