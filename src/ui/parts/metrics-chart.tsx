import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { NodeMetricsSample } from "../../../gen/proto/capstan/v1/node_service_pb.js";

/**
 * CPU and memory use over the recent heartbeats (uPlot), in percent. The
 * samples also show as a table below it for screen readers.
 */
export function MetricsChart({ samples, minutes }: { samples: readonly NodeMetricsSample[]; minutes: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const data: uPlot.AlignedData = [
      samples.map((s) => (s.time ? timestampDate(s.time).getTime() / 1000 : 0)),
      samples.map((s) => s.cpuUsage),
      samples.map((s) => s.memUsage),
    ];
    const width = Math.max(280, Math.min(el.clientWidth || 600, 900));
    if (!plot.current) {
      plot.current = new uPlot(
        {
          width,
          height: 200,
          // The whole window, even with few samples yet (uPlot would otherwise stretch one point over years).
          scales: { x: { time: true, range: (_u, min, max) => [Math.min(min, Date.now() / 1000 - minutes * 60), Math.max(max, Date.now() / 1000)] }, y: { range: [0, 100] } },
          axes: [{}, { values: (_u, ticks) => ticks.map((t) => `${t}%`) }],
          series: [{}, { label: "CPU", stroke: "#1f5fbf", width: 2 }, { label: "Memory", stroke: "#b3261e", width: 2 }],
        },
        data,
        el,
      );
    } else plot.current.setData(data);
  }, [samples, minutes]);
  useEffect(() => () => plot.current?.destroy(), []);
  return <div ref={box} className="chart" role="img" aria-label="CPU and memory use over the last minutes" />;
}
