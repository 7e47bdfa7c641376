// Apache ECharts, only the parts the console draws (line, bar, pie on a canvas), resized with its box.
import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

echarts.use([LineChart, BarChart, PieChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer]);

export function Chart({ option, label }: { option: echarts.EChartsCoreOption; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const chart = echarts.init(box.current!);
    chart.setOption(option);
    const resize = new ResizeObserver(() => chart.resize());
    resize.observe(box.current!);
    return () => {
      resize.disconnect();
      chart.dispose();
    };
  }, [option]);
  return <div ref={box} className="chart" role="img" aria-label={label} />;
}
