package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/paulmach/orb"
)

// Hot spots: a handful of places where hazards really pile up (an old wholesale market,
// rental housing in former villages, logistics yards, the petrochemical areas).
var hotSpots = []struct {
	name string
	c    orb.Point
	sd   float64 // metres
}{
	{"七浦路批发市场周边", orb.Point{121.4830, 31.2480}, 220},
	{"桃浦老工业区", orb.Point{121.4050, 31.2750}, 300},
	{"南翔物流园", orb.Point{121.3300, 31.3000}, 300},
	{"九亭城中村", orb.Point{121.3250, 31.1350}, 260},
	{"金山石化片区", orb.Point{121.3300, 30.7250}, 350},
	{"高桥石化片区", orb.Point{121.5600, 31.3400}, 320},
}

const hotSpotShare = 0.012 // of all hazards, per hot spot

// hazard categories, with the descriptions and rectification measures used for them
var hazardCategories = map[string]struct {
	desc     []string
	measures []string
}{
	"消防安全": {
		desc: []string{"疏散通道堆放杂物，通道堵塞", "安全出口锁闭", "灭火器过期未更换", "消防栓被遮挡，无法正常使用", "防火门常开，闭门器损坏",
			"应急照明和疏散指示标志损坏", "自动喷水灭火系统处于关闭状态", "消防车通道被占用", "仓库内违规住人", "厨房排油烟管道油垢未清理"},
		measures: []string{"清理疏散通道并设置警示标志，落实每日防火巡查", "更换过期灭火器材，委托维保单位对消防设施全面检测",
			"恢复自动消防设施运行，聘请有资质单位维保并建立台账", "拆除违规住人设施，人员撤离并设置隔离"},
	},
	"危化品储存": {
		desc: []string{"危险化学品超量储存", "禁忌物料混存", "储罐区防火堤破损", "仓库通风设施失效", "可燃气体报警装置未定期检定",
			"储罐液位计失灵", "危化品仓库防爆电气不符合要求", "装卸作业未设置静电接地", "危化品出入库台账不全"},
		measures: []string{"按核定储量清理超量物料，分区分类存放并设置隔离", "修复防火堤及围堰，完成后组织专家验收",
			"更换防爆电气设备，委托有资质单位检测", "停用失效储罐并倒罐，检修液位及联锁装置后经评估恢复使用"},
	},
	"用电安全": {
		desc: []string{"电气线路私拉乱接", "配电箱未可靠接地", "电动自行车在楼道内违规充电", "电气线路老化破损", "配电房堆放可燃物",
			"大功率电器使用插线板串接"},
		measures: []string{"拆除私拉乱接线路，由持证电工重新敷设", "更换老化线路并加装漏电保护装置", "设置集中充电点，清理楼道内电动自行车"},
	},
	"特种设备": {
		desc: []string{"叉车未定期检验", "压力容器超期未检", "起重机械限位装置失效", "电梯维保记录缺失", "特种设备作业人员无证上岗",
			"锅炉安全阀未校验"},
		measures: []string{"停用相关设备，委托特种设备检验机构检验合格后恢复使用", "组织作业人员培训取证，未取证人员调离岗位",
			"修复安全保护装置并经检验确认"},
	},
	"有限空间": {
		desc:     []string{"有限空间作业未审批", "有限空间未设置警示标志", "未配备气体检测仪和通风设备", "有限空间作业无专人监护"},
		measures: []string{"建立有限空间台账并设置警示标志，作业严格执行审批制度", "配备气体检测及强制通风设备，组织应急演练"},
	},
	"燃气使用": {
		desc:     []string{"未安装燃气泄漏报警装置", "燃气软管老化", "液化石油气钢瓶违规存放", "燃气管道被占压", "餐饮场所燃气设施未定期检查"},
		measures: []string{"安装燃气泄漏报警及自动切断装置", "更换金属软管，清理违规存放钢瓶", "配合燃气公司拆除占压设施并迁改管道"},
	},
	"安全管理": {
		desc:     []string{"未建立隐患排查治理制度", "安全教育培训记录缺失", "应急预案未演练", "安全生产责任制未落实到岗位", "外包施工未签订安全协议"},
		measures: []string{"修订安全管理制度并组织全员培训考核", "完善应急预案并组织演练", "明确各岗位安全职责，签订责任书"},
	},
	"施工安全": {
		desc:     []string{"脚手架搭设不规范", "临边洞口防护缺失", "深基坑支护变形未监测", "塔吊基础积水", "施工现场动火作业未审批"},
		measures: []string{"停工整改，按专项方案重新搭设并验收", "补设临边防护，组织专家论证基坑监测方案", "落实动火审批及现场监护"},
	},
	"粉尘防爆": {
		desc:     []string{"除尘系统未定期清灰", "粉尘涉爆区域使用非防爆电气", "除尘器未设置泄爆装置"},
		measures: []string{"落实清灰制度并记录，更换防爆电气设备", "加装泄爆及隔爆装置，经评估后恢复生产"},
	},
}

// categories by industry (index as in industries), and for hazards not tied to an
// enterprise
var (
	catByIndustry = []choice{
		newChoice("危化品储存", 35, "消防安全", 18, "特种设备", 12, "用电安全", 8, "有限空间", 12, "安全管理", 15),
		newChoice("危化品储存", 30, "消防安全", 25, "用电安全", 10, "燃气使用", 5, "安全管理", 30),
		newChoice("危化品储存", 45, "消防安全", 20, "特种设备", 12, "有限空间", 8, "安全管理", 15),
		newChoice("危化品储存", 25, "消防安全", 20, "用电安全", 12, "有限空间", 15, "特种设备", 10, "安全管理", 18),
		newChoice("施工安全", 55, "消防安全", 12, "用电安全", 13, "特种设备", 12, "安全管理", 8),
		newChoice("用电安全", 22, "消防安全", 25, "特种设备", 15, "有限空间", 10, "粉尘防爆", 10, "安全管理", 18),
		newChoice("特种设备", 20, "消防安全", 30, "用电安全", 15, "安全管理", 30, "危化品储存", 5),
		newChoice("消防安全", 40, "用电安全", 25, "燃气使用", 20, "安全管理", 15),
	}
	catResidential = newChoice("消防安全", 45, "用电安全", 35, "燃气使用", 20)
	reporters      = newChoice("网格员巡查", 55, "企业自查自报", 20, "区应急管理局执法检查", 12, "12345市民热线", 8, "街道安全办检查", 5)
)

var hazardCols = []column{
	{"code", cText}, {"level", cText}, {"category", cText}, {"description", cText}, {"status", cText},
	{"feature_kind", cText}, {"feature_code", cText}, {"reporter", cText}, {"responsible", cText},
	{"deadline", cText}, {"funds", cRaw}, {"measures", cText}, {"reported_at", cText}, {"closed_at", cText},
}

var statuses = []string{"reported", "registered", "assigned", "rectifying", "verified", "closed"}

func (g *gen) hazards(n int) (File, error) {
	r := g.rng(streamHazards)
	w := g.w
	t := &g.ents
	nEnt := len(t.lon)
	fw, err := newFeatureWriter(g.opts.OutDir, "hazards", g.opts.Format, hazardCols)
	if err != nil {
		return File{}, err
	}
	defer fw.f.Close()
	vals := make([]string, len(hazardCols))
	riskW := []float64{4, 3, 2, 1}

	for i := 1; i <= n; i++ {
		for k := range vals {
			vals[k] = ""
		}
		var pt orb.Point
		var category, kind, code string
		var levelP float64
		ci := -1
		u := r.Float64()
		hot := int(u / hotSpotShare)
		switch {
		case hot < len(hotSpots):
			// a hot spot: residential and small-business hazards packed in a few streets
			h := hotSpots[hot]
			for {
				dx, dy := gauss2(r, h.sd)
				pt = roundPt(offsetM(h.c, dx, dy))
				if ci = w.communityOf(pt); ci >= 0 && w.inDistrict(pt, w.communities[ci].district) {
					break
				}
			}
			category = catResidential.pick(r)
			if hot == 4 || hot == 5 {
				category = catByIndustry[2].pick(r)
			}
			levelP = 0.04
		case u < 0.90 && nEnt > 0:
			// an enterprise, the riskier ones more often
			var e int
			for {
				e = r.IntN(nEnt)
				if r.Float64()*4 < riskW[t.risk[e]] {
					break
				}
			}
			ep := t.point(e)
			pt = ep
			for range 5 {
				dx, dy := gauss2(r, 25)
				q := roundPt(offsetM(ep, dx, dy))
				if w.inDistrict(q, int(t.district[e])) {
					pt = q
					break
				}
			}
			ci = int(t.comm[e])
			kind, code = "enterprises", t.uscc(e, w.districts[t.district[e]].code)
			category = catByIndustry[t.ind[e]].pick(r)
			levelP = []float64{0.16, 0.07, 0.03, 0.015}[t.risk[e]]
		case u < 0.93 && len(g.spaces) > 0:
			s := g.spaces[r.IntN(len(g.spaces))]
			pt = roundPt(s.centre)
			kind, code = "underground_spaces", s.code
			category = catUnderground.pick(r)
			levelP = 0.03
		case u < 0.945 && len(g.occSites) > 0:
			s := g.occSites[r.IntN(len(g.occSites))]
			pt = s.p
			kind, code, category = "gas_occupancy_sites", s.code, "燃气使用"
			levelP = 0.08
		case u < 0.95 && len(g.pipes) > 0:
			p := g.pipes[r.IntN(len(g.pipes))]
			pt, _ = pointAlong(p.ls, r.Float64()*p.lengthM)
			pt = roundPt(pt)
			kind, code, category = "pipelines", p.code, pickOne(r, []string{"燃气使用", "安全管理", "施工安全"})
			levelP = 0.06
		default:
			// a block: residential hazards not tied to any supervised feature
			var c int
			pl := g.placer()
			pt, c = pl.community(r)
			ci = c
			category = catResidential.pick(r)
			levelP = 0.02
		}
		if w.districtOf(pt) < 0 {
			// every hazard is in Shanghai: fall back to a block hazard
			pt, ci = g.placer().community(r)
			kind, code = "", ""
		}
		if ci < 0 {
			ci = w.commIdx.nearest(pt)
		}
		level := "一般"
		if r.Float64() < levelP {
			level = "重大"
		}
		cat := hazardCategories[category]
		vals[0] = fmt.Sprintf("YH-%08d", i)
		vals[1] = level
		vals[2] = category
		vals[3] = pickOne(r, cat.desc)
		vals[5], vals[6] = kind, code
		rep := reporters.pick(r)
		if rep == "网格员巡查" && ci >= 0 {
			rep = "officer_" + w.communities[ci].code
		}
		vals[7] = rep
		g.lifecycle(r, level, cat.measures, vals)
		if err := fw.point(pt, vals); err != nil {
			return File{}, err
		}
	}
	if err := fw.close(); err != nil {
		return File{}, err
	}
	return File{Kind: "hazards", Path: fw.name, Format: fw.format, Rows: fw.rows}, nil
}

// lifecycle sets status, responsible, deadline, funds, measures, reported_at and
// closed_at: a hazard reported some time in the last two years has moved through
// registration, assignment, rectification and verification at realistic speeds, and a
// few got stuck, so that the open ones sit in every state and some are overdue.
func (g *gen) lifecycle(r *rand.Rand, level string, measures []string, vals []string) {
	major := level == "重大"
	age := math.Pow(r.Float64(), 1.3) * 730 // days before the reference date, recent ones more often
	reported := daysBefore(age)
	reported = time.Date(reported.Year(), reported.Month(), reported.Day(), between(r, 8, 18), r.IntN(60), 0, 0, shanghai)
	if !reported.Before(ReferenceDate) {
		reported = reported.Add(-24 * time.Hour)
	}
	day := 24 * time.Hour
	registered := reported.Add(time.Duration(r.Float64()*2.5*24) * time.Hour)
	assigned := registered.Add(time.Duration(0.5+r.Float64()*4) * day)
	var limit time.Duration
	if major {
		limit = time.Duration(between(r, 30, 120)) * day
	} else {
		limit = time.Duration(between(r, 7, 30)) * day
	}
	deadline := assigned.Add(limit)
	var done time.Time // rectification finished
	switch x := r.Float64(); {
	case x < 0.80:
		done = assigned.Add(time.Duration(r.Float64() * float64(limit)))
	case x < 0.95:
		done = deadline.Add(time.Duration(r.Float64()*40) * day) // late
	default:
		done = deadline.Add(time.Duration(60+r.Float64()*500) * day) // stuck
	}
	verified := done.Add(time.Duration(1+r.Float64()*6) * day)
	closed := verified.Add(time.Duration(1+r.Float64()*10) * day)
	// A few reports wait a long time before anyone registers or assigns them.
	if r.Float64() < 0.01 {
		registered = registered.Add(time.Duration(r.Float64()*90) * day)
		assigned = assigned.Add(time.Duration(r.Float64()*120) * day)
	}
	now := ReferenceDate
	status := 0
	for k, at := range []time.Time{registered, assigned, assigned.Add(time.Hour), verified, closed} {
		if !at.After(now) {
			status = k + 1
		}
	}
	vals[4] = statuses[status]
	vals[12] = tsStr(reported)
	if status >= 1 { // registered: someone is responsible
		vals[8] = personName(r)
	}
	if status >= 2 { // assigned: deadline, and for a 重大 hazard the full plan
		vals[9] = dateStr(deadline)
		if major || r.Float64() < 0.4 {
			vals[11] = pickOne(r, measures)
		}
		if major {
			vals[10] = ftoa(float64(between(r, 20, 800))*1000, 0)
		} else if r.Float64() < 0.3 {
			vals[10] = ftoa(float64(between(r, 5, 200))*100, 0)
		}
	}
	if status == 5 {
		vals[13] = tsStr(closed)
	}
}

var catUnderground = newChoice("消防安全", 45, "用电安全", 20, "有限空间", 15, "安全管理", 20)

func (g *gen) placer() *placer {
	if g.pl == nil {
		g.pl = newPlacer(g.w)
	}
	return g.pl
}
