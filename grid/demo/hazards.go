package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/paulmach/orb"

	"safegrid/grid"
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

// hazardCategories lists, for each category, hazards as found (description) with the
// rectification measures a plan for them would list.
var hazardCategories = map[string][][2]string{
	"消防安全": {
		{"疏散通道堆放杂物，通道堵塞", "清理疏散通道并设置禁止堆物标志，落实每日防火巡查"},
		{"安全出口锁闭", "立即开启安全出口，更换为推闩式门锁并纳入巡查"},
		{"灭火器过期未更换", "更换过期灭火器，建立消防器材检查台账"},
		{"消防栓被遮挡，无法正常使用", "移除遮挡物，划定消防栓周边禁停禁放区域"},
		{"防火门常开，闭门器损坏", "修复闭门器，恢复防火门常闭状态"},
		{"应急照明和疏散指示标志损坏", "更换应急照明及疏散指示标志，委托维保单位检测"},
		{"自动喷水灭火系统处于关闭状态", "恢复自动喷水灭火系统运行，聘请有资质单位维保并建立台账"},
		{"消防车通道被占用", "清理消防车通道，施划标线并设置警示牌"},
		{"仓库内违规住人", "拆除违规住人设施，人员撤离并实施防火分隔"},
		{"厨房排油烟管道油垢未清理", "委托专业单位清洗排油烟管道，每季度清洗并留存记录"},
	},
	"危化品储存": {
		{"危险化学品超量储存", "按核定储量清理超量物料，分区分类存放"},
		{"禁忌物料混存", "禁忌物料分库储存，设置隔离并张贴化学品安全标签"},
		{"储罐区防火堤破损", "修复防火堤及围堰，完成后组织专家验收"},
		{"仓库通风设施失效", "修复机械通风设施并与可燃气体报警联锁"},
		{"可燃气体报警装置未定期检定", "委托计量机构检定报警装置，建立检定台账"},
		{"储罐液位计失灵", "停用储罐并倒罐，检修液位计及高液位联锁后经评估恢复使用"},
		{"危化品仓库防爆电气不符合要求", "更换防爆电气设备，委托有资质单位检测"},
		{"装卸作业未设置静电接地", "加装静电接地报警装置，装卸前确认接地"},
		{"危化品出入库台账不全", "完善出入库登记制度，每日核对库存"},
	},
	"用电安全": {
		{"电气线路私拉乱接", "拆除私拉乱接线路，由持证电工重新敷设"},
		{"配电箱未可靠接地", "整改配电箱接地并测试接地电阻"},
		{"电动自行车在楼道内违规充电", "设置集中充电点，清理楼道内电动自行车"},
		{"电气线路老化破损", "更换老化线路并加装漏电保护装置"},
		{"配电房堆放可燃物", "清理配电房可燃物，配电房上锁专人管理"},
		{"大功率电器使用插线板串接", "增设专用回路和插座，禁止串接插线板"},
	},
	"特种设备": {
		{"叉车未定期检验", "停用叉车，经特种设备检验机构检验合格后恢复使用"},
		{"压力容器超期未检", "停用压力容器，委托检验机构定期检验"},
		{"起重机械限位装置失效", "停用起重机械，修复限位装置并经检验确认"},
		{"电梯维保记录缺失", "督促维保单位按期维保，补全维保记录"},
		{"特种设备作业人员无证上岗", "组织作业人员培训取证，未取证人员调离岗位"},
		{"锅炉安全阀未校验", "委托有资质单位校验安全阀，校验合格后投用"},
	},
	"有限空间": {
		{"有限空间作业未审批", "建立有限空间作业审批制度，作业前审批并检测"},
		{"有限空间未设置警示标志", "建立有限空间台账，逐一设置警示标志"},
		{"未配备气体检测仪和通风设备", "配备气体检测及强制通风设备，组织应急演练"},
		{"有限空间作业无专人监护", "落实作业监护人，配备应急救援装备"},
	},
	"燃气使用": {
		{"未安装燃气泄漏报警装置", "安装燃气泄漏报警及自动切断装置"},
		{"燃气软管老化", "更换金属波纹软管"},
		{"液化石油气钢瓶违规存放", "清理违规存放钢瓶，改用管道燃气"},
		{"燃气管道被占压", "配合燃气公司拆除占压设施并迁改管道"},
		{"餐饮场所燃气设施未定期检查", "委托燃气公司安检，建立日常检查记录"},
	},
	"安全管理": {
		{"未建立隐患排查治理制度", "建立隐患排查治理制度并组织全员培训"},
		{"安全教育培训记录缺失", "开展全员安全培训考核，完善培训档案"},
		{"应急预案未演练", "修订应急预案并组织演练"},
		{"安全生产责任制未落实到岗位", "明确各岗位安全职责，签订责任书"},
		{"外包施工未签订安全协议", "与外包单位签订安全管理协议，落实现场管理"},
	},
	"施工安全": {
		{"脚手架搭设不规范", "停工整改，按专项方案重新搭设并验收"},
		{"临边洞口防护缺失", "补设临边洞口防护栏杆和安全网"},
		{"深基坑支护变形未监测", "委托第三方监测，组织专家论证基坑加固方案"},
		{"塔吊基础积水", "排除积水并复测塔吊基础沉降"},
		{"施工现场动火作业未审批", "落实动火审批及现场监护"},
	},
	"粉尘防爆": {
		{"除尘系统未定期清灰", "落实清灰制度并记录"},
		{"粉尘涉爆区域使用非防爆电气", "更换为防爆电气设备"},
		{"除尘器未设置泄爆装置", "加装泄爆及隔爆装置，经评估后恢复生产"},
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
		checked := true // pt is known to be in Shanghai
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
			checked = false
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
			checked = false
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
		if !checked && w.districtOf(pt) < 0 {
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
		found := pickOne(r, hazardCategories[category])
		vals[0] = fmt.Sprintf("YH-%08d", i)
		vals[1] = level
		vals[2] = category
		vals[3] = found[0]
		vals[5], vals[6] = kind, code
		rep := reporters.pick(r)
		if rep == "网格员巡查" && ci >= 0 {
			rep = "officer_" + w.communities[ci].code
		}
		vals[7] = rep
		g.lifecycle(r, level, found[1], vals)
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
func (g *gen) lifecycle(r *rand.Rand, level, measures string, vals []string) {
	major := level == "重大"
	age := math.Pow(r.Float64(), 1.3) * 730 // days before the reference date, recent ones more often
	reported := daysBefore(age)
	reported = time.Date(reported.Year(), reported.Month(), reported.Day(), between(r, 8, 18), r.IntN(60), 0, 0, grid.ShanghaiZone())
	if !reported.Before(ReferenceDate) {
		reported = reported.Add(-24 * time.Hour)
	}
	// A few reports wait a long time before anyone registers them.
	wait := days(r.Float64() * 2.5)
	if r.Float64() < 0.01 {
		wait += days(r.Float64() * 150)
	}
	registered := reported.Add(wait)
	assigned := registered.Add(days(0.5 + r.Float64()*4))
	rectifying := assigned.Add(days(0.5 + r.Float64()*6))
	limit := days(float64(between(r, 7, 30)))
	if major {
		limit = days(float64(between(r, 30, 120)))
	}
	deadline := assigned.Add(limit)
	var done time.Time // rectification finished
	switch x := r.Float64(); {
	case x < 0.80:
		done = rectifying.Add(time.Duration(r.Float64() * float64(deadline.Sub(rectifying))))
	case x < 0.95:
		done = deadline.Add(days(r.Float64() * 40)) // late
	default:
		done = deadline.Add(days(60 + r.Float64()*500)) // stuck
	}
	if done.Before(rectifying) {
		done = rectifying.Add(days(r.Float64()))
	}
	verified := done.Add(days(1 + r.Float64()*6))
	closed := verified.Add(days(1 + r.Float64()*10))
	status := 0
	for k, at := range []time.Time{registered, assigned, rectifying, verified, closed} {
		if !at.After(ReferenceDate) {
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
			vals[11] = measures
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

func days(d float64) time.Duration {
	return time.Duration(d * 24 * float64(time.Hour)).Truncate(time.Minute)
}

var catUnderground = newChoice("消防安全", 45, "用电安全", 20, "有限空间", 15, "安全管理", 20)

func (g *gen) placer() *placer {
	if g.pl == nil {
		g.pl = newPlacer(g.w)
	}
	return g.pl
}
